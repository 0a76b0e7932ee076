// Shell: hash router over one ES module per page. Pages export `render(root)`.
import { invoke } from "./ipc.js";
import { refreshSession } from "./session.js";
import { startLive } from "./live.js";

const pages = {
  welcome: () => import("./pages/welcome.js"),
  integration: () => import("./pages/integration.js"),
  programs: () => import("./pages/programs.js"),
  operators: () => import("./pages/operators.js"),
  members: () => import("./pages/members.js"),
  meetings: () => import("./pages/meetings.js"),
  batches: () => import("./pages/batches.js"),
  audit: () => import("./pages/audit.js"),
};

let generation = 0;

async function route() {
  const mine = ++generation;
  // Lists measure their first render from here (ui/list.js).
  performance.clearMarks("route");
  performance.mark("route");
  const name = (location.hash.replace(/^#\//, "") || "programs").split("?")[0];
  const load = pages[name] || pages.programs;
  for (const a of document.querySelectorAll(".sidebar a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  const mod = await load();
  if (mine !== generation) return;
  main.replaceChildren();
  await mod.render(main);
}

async function info() {
  try {
    const i = await invoke("app_info");
    document.getElementById("data-dir").textContent = i.data_dir ? `Data: ${i.data_dir}` : "";
    document.getElementById("version").textContent = `v${i.version}`;
  } catch (e) {
    document.getElementById("data-dir").textContent = e.message || String(e);
  }
}

/** Whether the window should open on the welcome page: a store nobody has used yet. (Asked here,
 *  not in the welcome page's module, so a usual start does not fetch that module first.) */
async function isFirstRun() {
  try {
    return (await invoke("welcome_status")).first_run;
  } catch {
    // A broken store is better explained by the page that opens normally.
    return false;
  }
}

// A store nobody has used yet opens on the welcome page; any other on its usual first page.
// Unless the person already went to a page while the store was asked: drawing again would throw
// away what they began there (a test caught a form being replaced while it was filled in).
async function start() {
  const welcome = !location.hash && (await isFirstRun());
  if (generation > 0) return;
  if (welcome) history.replaceState(null, "", "#/welcome");
  route();
}

window.addEventListener("hashchange", route);
start();
info();
refreshSession();
startLive();
