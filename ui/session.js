// The header: who is acting (operator and roles, or setup mode) and the integration's state.
import { invoke, h, roleText } from "./ipc.js";

const INTEGRATION = {
  connected: ["ok", "Microsoft 365 connected"],
  needs_attention: ["warn", "Microsoft 365 needs attention"],
  not_connected: ["muted", "Microsoft 365 not connected"],
};

export let current = null;

export async function refreshSession() {
  const el = document.getElementById("session");
  try {
    const s = await invoke("session_info");
    current = s;
    const parts = [];
    if (s.integration) {
      let [kind, text] = INTEGRATION[s.integration] || ["muted", s.integration];
      if (s.integration_cloud === "sandbox") text = text.replace("Microsoft 365", "Sandbox tenant");
      parts.push(h("a", { id: "integration-badge", class: `badge ${kind}`, href: "#/integration", title: "Integration status" }, text));
    }
    if (s.problem) {
      parts.push(h("span", { id: "acting", class: "badge danger", title: s.problem }, s.operator ? `${s.operator}: cannot act` : "Not signed in"));
    } else if (s.setup_mode) {
      parts.push(h("span", { id: "acting", class: "badge", title: "No operators yet: this computer's user may do everything. Add the first operator on the Operators page." }, "Setup mode"));
    } else {
      parts.push(h("span", { id: "acting", class: "acting" },
        h("span", { class: "who" }, s.operator),
        h("span", { class: "roles" }, s.roles.length ? s.roles.map(roleText).join(", ") : "no roles")));
    }
    el.replaceChildren(...parts);
    for (const a of document.querySelectorAll("[data-admin-only]")) a.hidden = !s.global_admin && !s.roles.some((g) => g.role === "support");
  } catch (e) {
    el.textContent = e.message || String(e);
  }
  return current;
}
