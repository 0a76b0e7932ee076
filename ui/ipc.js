// The one bridge to the Rust side. Errors arrive as { code, message }.
export async function invoke(cmd, args) {
  const tauri = window.__TAURI__;
  if (!tauri) throw { code: "no_backend", message: "The Teams Scheduler backend is not available." };
  return tauri.core.invoke(cmd, args);
}

/** A Tauri channel whose messages go to `onmessage` (progress of long commands). */
export function channel(onmessage) {
  const ch = new window.__TAURI__.core.Channel();
  ch.onmessage = onmessage;
  return ch;
}

/** Builds an element: h("td", { class: "x" }, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "checked" || k === "value") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A message for an error thrown by invoke. */
export function errorText(e) {
  return (e && e.message) || String(e);
}

/** Saves an export as a file (the app writes it: the web view cannot download a Blob) and says
 *  where it went; returns the path. */
export async function download(name, _type, text) {
  try {
    const path = await invoke("save_export", { name, text });
    toast(`Saved ${name} to ${path}`, "ok");
    return path;
  } catch (e) {
    toast(`Could not save ${name}: ${errorText(e)}`, "danger");
    throw e;
  }
}

/** A short message at the bottom of the window (role=status), kept until the next one. */
export function toast(text, kind = "ok") {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  el.className = `toast ${kind}`;
  el.replaceChildren(h("span", { id: "toast-text" }, text),
    h("button", { type: "button", class: "small secondary", "aria-label": "Dismiss", onclick: () => { el.hidden = true; } }, "×"));
  el.hidden = false;
}

/** Words for roles. */
export const ROLE_LABELS = { global_admin: "Global admin", track_admin: "Track admin", coordinator: "Coordinator", support: "Support" };

/** "Track admin of eng". */
export function roleText(g) {
  return g.program ? `${ROLE_LABELS[g.role] || g.role} of ${g.program}` : ROLE_LABELS[g.role] || g.role;
}
