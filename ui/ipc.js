// The one bridge to the Rust side. Errors arrive as { code, message }.
export async function invoke(cmd, args) {
  const tauri = window.__TAURI__;
  if (!tauri) throw { code: "no_backend", message: "The Teams Scheduler backend is not available." };
  return tauri.core.invoke(cmd, args);
}

/** Builds an element: h("td", { class: "x" }, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A message for an error thrown by invoke. */
export function errorText(e) {
  return (e && e.message) || String(e);
}
