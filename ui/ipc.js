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

/** Saves text as a file through a Blob link. */
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Words for roles. */
export const ROLE_LABELS = { global_admin: "Global admin", track_admin: "Track admin", coordinator: "Coordinator", support: "Support" };

/** "Track admin of eng". */
export function roleText(g) {
  return g.program ? `${ROLE_LABELS[g.role] || g.role} of ${g.program}` : ROLE_LABELS[g.role] || g.role;
}
