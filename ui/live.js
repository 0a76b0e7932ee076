// Live updates from a team's shared store: the app sends { kind: "changed", table } when another
// workstation (or this one) changed a table, { kind: "lost", reason } while its listening
// connection is down and { kind: "restored" } once it is back (commands/live.rs). The page on
// screen says which tables it shows and how to reload (`liveReload`); a change to one of them
// reloads it shortly after (changes arriving meanwhile join that one reload). Never over a form
// the person is editing: then a small "Changed elsewhere — Reload" note waits for them instead.
// With the embedded store nothing is ever sent, and pages reload on their own actions as before.
import { h } from "./dom.js";
import { invoke, channel } from "./ipc.js";

/** How long a change waits for others before the page reloads (ms). */
export const RELOAD_DELAY_MS = 400;

let page = null;
let lostReason = null;
let started = false;

/** Subscribes the window once (app.js). Resolves to whether live updates are on. */
export async function startLive() {
  if (started) return false;
  started = true;
  // Which forms hold unsaved typing: set on input, cleared when the form is submitted or reset.
  document.addEventListener("input", (ev) => {
    const form = ev.target.closest && ev.target.closest("form");
    if (form) form.dataset.edited = "1";
  }, true);
  for (const type of ["submit", "reset"]) {
    document.addEventListener(type, (ev) => { delete ev.target.dataset.edited; }, true);
  }
  try {
    return await invoke("store_changes", { onEvent: channel(onEvent) });
  } catch {
    // Without live updates the window works as before.
    return false;
  }
}

/**
 * Reloads the page in `root` when one of `tables` changes elsewhere: `reload()` redraws it
 * (keeping what the person opened and how far they scrolled the list). Replaces the previous
 * page's registration.
 */
export function liveReload(root, tables, reload) {
  if (page) clearTimeout(page.timer);
  page = { root, tables: new Set(tables), reload, timer: null, route: routeName() };
  showLost();
}

function onEvent(e) {
  if (e.kind === "lost") {
    lostReason = e.reason || "the connection ended";
    showLost();
  } else if (e.kind === "restored") {
    lostReason = null;
    showLost();
    // What changed while the connection was down was not heard of: reload whatever is shown.
    schedule();
  } else if (e.kind === "changed" && page && page.tables.has(e.table)) {
    schedule();
  }
}

// Every page draws into the same #main, so "still on screen" is "the route has not changed".
function routeName() {
  return location.hash.split("?")[0];
}

function onScreen() {
  return page && page.route === routeName() && document.body.contains(page.root) ? page : null;
}

function schedule() {
  const p = onScreen();
  if (!p || p.timer) return;
  p.timer = setTimeout(() => {
    p.timer = null;
    if (onScreen() !== p) return;
    if (editing(p.root)) showNote(p);
    else reloadNow(p);
  }, RELOAD_DELAY_MS);
}

/** Whether the person is in the middle of a form on this page: typed into it and not yet sent,
 *  or has the focus in a filled-in field of it. */
function editing(root) {
  if (root.querySelector("form[data-edited]")) return true;
  const a = document.activeElement;
  return !!(a && root.contains(a) && a.closest("form") && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)
    && a.type !== "checkbox" && a.type !== "radio" && a.value);
}

async function reloadNow(p) {
  const note = p.root.querySelector("#changed-elsewhere");
  if (note) note.remove();
  p.root.dataset.liveReloads = String(Number(p.root.dataset.liveReloads || 0) + 1);
  try {
    await p.reload();
  } catch {
    // The page shows its own read errors.
  }
}

function showNote(p) {
  if (p.root.querySelector("#changed-elsewhere")) return;
  const reload = h("button", { id: "changed-elsewhere-reload", type: "button", class: "secondary small" }, "Reload");
  const note = h("div", { id: "changed-elsewhere", class: "alert warn", role: "status" },
    "Changed elsewhere. ", reload);
  reload.addEventListener("click", () => reloadNow(p));
  p.root.prepend(note);
}

function showLost() {
  const p = onScreen();
  const old = document.getElementById("live-lost");
  if (old) old.remove();
  if (!p || lostReason === null) return;
  p.root.prepend(h("div", { id: "live-lost", class: "alert warn", role: "status" },
    `Reconnecting to the team database — changes made elsewhere show after it is back (${lostReason}).`));
}
