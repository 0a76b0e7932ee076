// Shell: hash router over one ES module per page. Pages export `render(root)`.
import { invoke } from "./ipc.js";

const pages = {
  integration: () => import("./pages/integration.js"),
  programs: () => import("./pages/programs.js"),
  members: () => import("./pages/members.js"),
  meetings: () => import("./pages/meetings.js"),
  batches: () => import("./pages/batches.js"),
  audit: () => import("./pages/audit.js"),
};

async function route() {
  const name = (location.hash.replace(/^#\//, "") || "programs").split("?")[0];
  const load = pages[name] || pages.programs;
  for (const a of document.querySelectorAll(".sidebar a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  const mod = await load();
  main.replaceChildren();
  await mod.render(main);
}

async function header() {
  try {
    const info = await invoke("app_info");
    document.getElementById("data-dir").textContent = info.data_dir ? `Data: ${info.data_dir}` : "";
    document.getElementById("session").innerHTML = `<span class="badge">Setup mode</span> v${info.version}`;
  } catch (e) {
    document.getElementById("session").textContent = e.message || String(e);
  }
}

window.addEventListener("hashchange", route);
route();
header();
