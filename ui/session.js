// The header: who is acting (the signed-in operator and their roles, or setup mode), sign in and
// sign out, and the integration's state.
import { invoke, channel } from "./ipc.js";
import { h, roleText, errorText } from "./dom.js";

const INTEGRATION = {
  connected: ["ok", "Microsoft 365 connected"],
  needs_attention: ["warn", "Microsoft 365 needs attention"],
  not_connected: ["muted", "Microsoft 365 not connected"],
};

const PROGRESS = {
  opening_browser: () => "Opening your browser…",
  open_browser_failed: (p) => `Open this address to sign in: ${p.url}`,
  waiting_for_browser: () => "Waiting for your sign-in in the browser…",
  exchanging_code: () => "Finishing sign-in…",
  reading_profile: () => "Checking you against the operators…",
  saved: () => "Signed in.",
};

export let current = null;
let signingIn = false;
let lastError = "";
// Each look at the session is numbered: only the latest draws the header, so an older answer
// arriving late cannot replace a newer header (or a sign-in's progress) with a stale one.
let looks = 0;

/** Re-renders the current page (access may have changed). */
function rerender() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

async function signIn() {
  signingIn = true;
  lastError = "";
  const status = h("span", { id: "sign-in-progress" }, "Starting…");
  const cancel = h("button", { id: "sign-in-cancel", class: "small secondary", type: "button", onclick: () => invoke("integration_cancel") }, "Cancel");
  document.getElementById("session").replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), status, cancel);
  const ch = channel((p) => {
    const f = PROGRESS[p.kind];
    if (f) status.textContent = f(p);
  });
  try {
    await invoke("session_sign_in", { input: null, onProgress: ch });
  } catch (e) {
    lastError = errorText(e);
  }
  signingIn = false;
  await refreshSession();
  rerender();
}

async function signOut() {
  try { await invoke("session_sign_out"); } catch (e) { lastError = errorText(e); }
  await refreshSession();
  rerender();
}

function signInButton(s) {
  return h("button", {
    id: "sign-in", type: "button", class: "small",
    disabled: !s.can_sign_in,
    title: s.can_sign_in
      ? "Sign in with your own Microsoft account in the browser"
      : "Connect the Microsoft 365 tenant first (Integration page): the host account that connects becomes the first global admin.",
    onclick: signIn,
  }, "Sign in");
}

export async function refreshSession() {
  const el = document.getElementById("session");
  if (signingIn) return current;
  const look = ++looks;
  try {
    const s = await invoke("session_info");
    current = s;
    // A sign-in may have begun (the header now shows its progress) or a newer look may have
    // started while this one was asked: drawing now would throw that away.
    if (signingIn || look !== looks) return current;
    const parts = [];
    if (s.integration) {
      let [kind, text] = INTEGRATION[s.integration] || ["muted", s.integration];
      if (s.integration_cloud === "sandbox") text = text.replace("Microsoft 365", "Sandbox tenant");
      parts.push(h("a", { id: "integration-badge", class: `badge ${kind}`, href: "#/integration", title: "Integration status" }, text));
    }
    if (lastError) parts.push(h("span", { id: "sign-in-error", class: "badge danger", title: lastError }, lastError));
    if (s.setup_mode) {
      parts.push(h("span", { id: "acting", class: "badge", title: "No operators yet: anyone using this computer may do everything. The first account to sign in — or the host account connecting the integration — becomes the first global admin." }, "Setup mode: no operators yet, everything is allowed"));
      if (s.can_sign_in) parts.push(signInButton(s));
    } else if (s.problem || !s.operator) {
      parts.push(h("span", { id: "acting", class: "badge danger", title: s.problem || "" }, s.operator ? `${s.operator}: cannot act` : "Not signed in"));
      parts.push(signInButton(s));
    } else {
      const via = s.via === "environment" ? " (TSCHED_OPERATOR)" : s.via === "database" ? " (team database)" : "";
      parts.push(h("span", { id: "acting", class: "acting" },
        h("span", { class: "who", title: s.display_name || "" }, s.operator + via),
        h("span", { class: "roles" }, s.roles.length ? s.roles.map(roleText).join(", ") : "no roles")));
      // On a team database the database login acts: there is no sign-out from it here.
      if (s.via !== "database") parts.push(h("button", { id: "sign-out", type: "button", class: "small secondary", onclick: signOut }, "Sign out"));
    }
    el.replaceChildren(...parts);
    for (const a of document.querySelectorAll("[data-admin-only]")) a.hidden = !s.global_admin && !s.roles.some((g) => g.role === "support");
  } catch (e) {
    if (!signingIn && look === looks) el.textContent = errorText(e);
  }
  return current;
}
