// The one bridge to the Rust side: commands, their progress channels, and saving an export
// through the app. Errors arrive as { code, message } (errorText in dom.js words them).
import { errorText, toast } from "./dom.js";

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
