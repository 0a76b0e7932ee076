// Integration page (global admins): connect the Microsoft 365 tenant by either approach, watch
// the sign-in while the browser is open, see the status, remove it.
import { invoke, channel } from "../ipc.js";
import { h, errorText, toast, field, confirmInline } from "../dom.js";
import { refreshSession } from "../session.js";
import { storeCard } from "./store_card.js";
import { agentsCard } from "./agents_card.js";
import { liveReload } from "../live.js";

const PERMISSIONS = [
  ["openid, profile", "Identify the account that signed in and its tenant."],
  ["offline_access", "Stay connected without signing in again: a refresh token kept only in this computer's keyring."],
  ["User.ReadBasic.All", "Check that a participant is a member of your organization (basic profile only)."],
  ["OnlineMeetings.ReadWrite", "Create, reschedule and cancel Teams meetings as the host account."],
];

const STATE_TEXT = { connected: "Connected", needs_attention: "Needs attention", not_connected: "Not connected" };

const PROGRESS_TEXT = {
  opening_browser: (p) => p.step === "admin_consent"
    ? "Opening the browser: a global admin approves the permissions for the organization…"
    : "Opening the browser: sign in with the host account (Teams Scheduler)…",
  open_browser_failed: (p) => `The browser could not be opened (${p.reason}). Open this address yourself: ${p.url}`,
  waiting_for_browser: (p) => p.step === "admin_consent"
    ? "Waiting for the global admin to approve in the browser…"
    : "Waiting for sign-in in the browser…",
  admin_consent_granted: () => "Organization-wide approval granted. Now the host account signs in…",
  exchanging_code: () => "Finishing sign-in…",
  reading_profile: () => "Reading the host account…",
  saved: () => "Connected.",
};

// Support's bundle: recent logs, versions, integration status and failures; never a token.
function diagnosticsCard() {
  const result = h("p", { id: "diagnostics-result", role: "status", "aria-live": "polite" });
  const button = h("button", { id: "diagnostics-export", type: "button", class: "secondary" }, "Export diagnostics");
  button.addEventListener("click", async () => {
    button.disabled = true;
    result.textContent = "Writing the diagnostics bundle…";
    try {
      const path = await invoke("diagnostics_export");
      result.textContent = `Saved to ${path}`;
      toast(`Diagnostics saved to ${path}`, "ok");
    } catch (e) {
      result.textContent = `Could not export diagnostics: ${errorText(e)}`;
      toast(result.textContent, "danger");
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { id: "diagnostics-card", class: "card", "aria-labelledby": "diagnostics-title" },
    h("h2", { id: "diagnostics-title" }, "Diagnostics for support"),
    h("p", {}, "Saves a zip for your support contact: the last days' logs, app, system and WebKitGTK versions, the integration's status and recent failures with their Microsoft request ids. It never holds a password or sign-in token."),
    button, result);
}

export async function render(root) {
  const statusCard = h("section", { class: "card", id: "integration-status", "aria-labelledby": "status-title", "aria-live": "polite" });
  const progress = h("div", { id: "connect-progress", class: "progress", role: "status", hidden: true });
  const error = h("div", { id: "connect-error", class: "alert error", role: "alert" });

  const cloud = h("select", { id: "cloud" },
    h("option", { value: "global" }, "Global (Microsoft 365)"),
    h("option", { value: "usgov" }, "US Government (GCC High)"),
    h("option", { value: "dod" }, "US Government DoD"),
    h("option", { value: "china" }, "China (21Vianet)"),
    h("option", { value: "sandbox" }, "Sandbox tenant (local emulator)"));
  const sandboxUrl = h("input", { id: "sandbox-url", type: "url", autocomplete: "off", placeholder: "http://127.0.0.1:PORT" });
  const sandboxField = field("sandbox-url", "Sandbox URL", sandboxUrl, "Base URL of a running tsched-sandbox");
  const tenant = h("input", { id: "tenant", autocomplete: "off", placeholder: "contoso.onmicrosoft.com or tenant GUID" });
  const clientId = h("input", { id: "client-id", autocomplete: "off", placeholder: "00000000-0000-0000-0000-000000000000" });
  const hint = h("input", { id: "login-hint", type: "email", autocomplete: "off", placeholder: "teams.scheduler@contoso.com" });
  const consentUrl = h("input", { id: "consent-url", readonly: true, placeholder: "Fill in tenant and client id", "aria-label": "Organization-wide approval address" });
  const copy = h("button", { id: "copy-consent-url", type: "button", class: "secondary" }, "Copy");
  const connectHost = h("button", { id: "connect-host", type: "button" }, "Connect: sign in the host account");
  const connectAdmin = h("button", { id: "connect-admin", type: "button" }, "Approve as global admin, then sign in");
  const cancel = h("button", { id: "connect-cancel", type: "button", class: "secondary" }, "Cancel");
  const explore = h("button", { id: "sandbox-explore", type: "button", class: "secondary" }, "Explore with the sandbox tenant");
  const connectButtons = [connectHost, connectAdmin, explore];
  const connectTitle = h("h2", { id: "connect-title" }, "Connect a tenant");

  const input = (approach) => ({
    approach, cloud: cloud.value, sandbox_url: sandboxUrl.value || null,
    tenant: tenant.value, client_id: clientId.value || null, login_hint: hint.value || null,
  });

  function showSandboxField() { sandboxField.hidden = cloud.value !== "sandbox"; }

  async function updateConsentUrl() {
    if (!tenant.value.trim() || !clientId.value.trim()) { consentUrl.value = ""; return; }
    try { consentUrl.value = await invoke("integration_consent_url", { input: input("admin_consent") }); }
    catch (e) { consentUrl.value = ""; consentUrl.placeholder = errorText(e); }
  }

  function busy(on, text) {
    progress.hidden = !on && !text;
    for (const b of connectButtons) b.disabled = on;
    progress.replaceChildren(
      on ? h("span", { class: "spinner", "aria-hidden": "true" }) : null,
      h("span", { id: "connect-progress-text" }, text || ""),
      on ? cancel : null);
    if (!progress.hidden) progress.scrollIntoView({ block: "nearest" });
  }

  /** Runs a command that signs the host in (`cmd` with `args` and a progress channel) while the
   *  page shows its steps; `onStep` sees every step first. Returns the command's result, or null
   *  when it failed (the error is shown). */
  async function signIn(cmd, args, onStep = () => {}) {
    error.textContent = "";
    busy(true, "Starting…");
    const ch = channel((p) => {
      onStep(p);
      const f = PROGRESS_TEXT[p.kind];
      const t = document.getElementById("connect-progress-text");
      if (f && t) t.textContent = f(p);
    });
    let result = null;
    try {
      result = await invoke(cmd, { ...args, onProgress: ch });
      busy(false, "Connected.");
      await refresh();
      statusCard.scrollIntoView({ block: "start" });
    } catch (e) {
      busy(false, "");
      error.textContent = errorText(e);
      await refresh();
    }
    refreshSession();
    return result;
  }

  const connect = (approach) => signIn("integration_connect", { input: input(approach) });

  cancel.addEventListener("click", () => invoke("integration_cancel"));
  connectHost.addEventListener("click", () => connect("host_sign_in"));
  connectAdmin.addEventListener("click", () => connect("admin_consent"));
  explore.addEventListener("click", async () => {
    // Start the embedded sandbox, connect to it (its facts fill the form) and add the demo
    // programs and participants (an empty store only), all in the one command.
    const r = await signIn("sandbox_explore", {}, (p) => {
      if (p.kind === "sandbox_started") fillSandbox(p.sandbox);
    });
    if (!r) return;
    const d = r.prefilled;
    busy(false, d.skipped
      ? `Connected to the sandbox tenant. No demo programs were added: ${d.skipped}.`
      : `Connected to the sandbox tenant, with ${d.programs.length} demo programs and ${d.participants} participants: see Programs.`);
  });
  copy.addEventListener("click", async () => {
    await updateConsentUrl();
    consentUrl.select();
    try { await navigator.clipboard.writeText(consentUrl.value); }
    catch { document.execCommand("copy"); }
    copy.textContent = "Copied";
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  });
  cloud.addEventListener("change", () => { showSandboxField(); updateConsentUrl(); });
  for (const el of [tenant, clientId, sandboxUrl]) el.addEventListener("change", updateConsentUrl);

  function fillSandbox(sb) {
    cloud.value = "sandbox";
    sandboxUrl.value = sb.base_url;
    tenant.value = sb.tenant_id;
    clientId.value = sb.client_id;
    hint.value = sb.host_upn || "";
    showSandboxField();
    updateConsentUrl();
  }

  let poll = null;
  async function refresh() {
    let page;
    try { page = await invoke("integration_status"); }
    catch (e) { statusCard.replaceChildren(h("h2", { id: "status-title" }, "Status"), h("div", { class: "alert error", role: "alert" }, errorText(e))); return; }
    renderStatus(page);
    for (const b of connectButtons) b.disabled = !page.can_manage || page.signing_in;
    if (!page.can_manage) error.textContent = `You cannot connect or remove the integration: ${page.denied_reason}.`;
    clearTimeout(poll);
    if (page.signing_in) {
      // A sign-in started before this page was (re)loaded: show it and watch it finish.
      if (progress.hidden) busy(true, "Waiting for sign-in in the browser…");
      poll = setTimeout(() => { if (document.body.contains(statusCard)) refresh(); }, 1000);
    } else {
      if (document.getElementById("connect-cancel")) busy(false, "");
      // A connect may have finished between the header's last look and now (e.g. the page was
      // reloaded while it completed): who acts may have changed.
      refreshSession();
    }
  }

  function renderStatus(page) {
    const s = page.status;
    const rows = [];
    const row = (k, v, id) => { if (v) rows.push(h("dt", {}, k), h("dd", id ? { id } : {}, v)); };
    row("Tenant", s.tenant_id && `${s.tenant_id} (${s.cloud})`, "status-tenant");
    row("Host account", s.host_upn && `${s.host_upn}${s.host_display_name ? ` (${s.host_display_name})` : ""}`, "status-host");
    row("Permissions granted", s.granted_scopes.length ? s.granted_scopes.join(", ") : null, "status-scopes");
    row("Permissions missing", s.missing_scopes.length ? s.missing_scopes.join(", ") : null, "status-missing");
    row("Connected", s.connected_at && `${s.connected_at}${s.connected_by ? ` by ${s.connected_by}` : ""}`);
    row("Last used", s.last_refresh_at);
    row("Sign-in expires if unused until", s.state !== "not_connected" ? s.inactivity_expires_at : null);
    row("Removed", s.removed_at);
    row("Teams meetings", s.meetings_available ? "available" : `unavailable: ${s.meetings_unavailable_reason}`, "status-meetings");
    if (s.state !== "not_connected") {
      row("Invitations", s.invitation_mode === "calendar"
        ? `from the host's calendar (Calendars.ReadWrite ${s.calendar_granted ? "granted" : "not granted"})`
        : "none sent: share the join link or export .ics files", "status-invitations");
      row("Invitations cannot be sent", s.invitations_unavailable_reason, "status-invitations-unavailable");
    }
    const children = [
      h("div", { class: "toolbar" },
        h("h2", { id: "status-title" }, "Status"),
        h("span", { id: "status-state", class: `badge ${s.state === "connected" ? "ok" : s.state === "needs_attention" ? "warn" : "muted"}` }, STATE_TEXT[s.state] || s.state)),
    ];
    if (s.reasons.length) children.push(h("ul", { id: "status-reasons", class: "alert warn" }, s.reasons.map((r) => h("li", {}, r))));
    if (rows.length) children.push(h("dl", { class: "facts" }, rows));
    else children.push(h("p", { class: "empty" }, "No tenant is connected yet — connect yours with one of the two ways below, or try everything first with the sandbox tenant at the bottom of this page."));
    if (s.state !== "not_connected" && page.can_manage) children.push(invitationControls(s), removeControls());
    if (page.sandbox && !tenant.value) fillSandbox(page.sandbox);
    connectTitle.textContent = s.state === "not_connected" ? "Connect a tenant" : "Reconnect, or connect another tenant";
    statusCard.replaceChildren(...children);
  }

  // The invitation mode: a global admin's choice for the whole integration.
  function invitationControls(s) {
    const select = h("select", { id: "invitation-mode" },
      h("option", { value: "none" }, "None — share the join link or export .ics files"),
      h("option", { value: "calendar" }, "Calendar — the host's calendar sends invitations, updates and cancellations"));
    select.value = s.invitation_mode;
    const save = h("button", { id: "invitation-mode-save", type: "button" }, "Set invitations");
    const note = h("p", { id: "invitation-mode-note", class: "hint" },
      "Calendar needs the Calendars.ReadWrite permission: a global admin grants it (admin consent) and reconnects the host.");
    save.addEventListener("click", async () => {
      save.disabled = true;
      try { renderStatus(await invoke("integration_set_invitations", { mode: select.value })); }
      catch (e) { note.replaceChildren(h("span", { class: "alert error", role: "alert" }, errorText(e))); save.disabled = false; }
    });
    return h("div", { class: "form-row" }, h("label", { for: "invitation-mode" }, "Invitations"), select, save, note);
  }

  function removeControls() {
    const box = h("div", { class: "danger-zone" });
    const start = h("button", { id: "integration-remove", type: "button", class: "danger" }, "Remove integration");
    return confirmInline(box, start, {
      question: "Remove the integration? The host account's sign-in is deleted from this computer's keyring. Programs keep their settings, but Teams meetings become unavailable until someone connects again.",
      no: "Keep it",
      ids: { confirm: "remove-confirm", question: "remove-q", yes: "remove-confirm-yes", no: "remove-confirm-no" },
      onYes: async (yes) => {
        yes.disabled = true;
        try {
          const removed = await invoke("integration_remove");
          await refresh();
          statusCard.append(h("section", { id: "revoke-help", class: "alert ok", role: "status" },
            h("p", {}, "Integration removed. To also revoke what was granted in Microsoft Entra:"),
            h("ul", {}, removed.revoke_instructions.map((r) => h("li", {}, r)))));
          refreshSession();
        } catch (e) {
          box.append(h("div", { class: "alert error", role: "alert" }, errorText(e)));
        }
      },
    });
  }

  // Team stores: the host agents and their queue, redrawn when the change feed reports them.
  const agents = agentsCard();

  const permissionList = h("ul", { class: "permissions" }, PERMISSIONS.map(([p, why]) => h("li", {}, h("code", {}, p), h("span", {}, why))));

  root.append(
    h("h1", {}, "Integration"),
    h("p", { class: "lead" }, "Connect your organization's Microsoft 365 tenant so programs can hold meetings as Teams video calls, hosted by a dedicated account."),
    statusCard,
    agents.card,
    h("section", { id: "connect-card", class: "card", "aria-labelledby": "connect-title" },
      connectTitle,
      h("div", { class: "form-row" },
        field("cloud", "Cloud", cloud),
        sandboxField,
        field("tenant", "Tenant", tenant, "Tenant id (GUID) or a verified domain"),
        field("client-id", "Application (client) id", clientId, "From your app registration's Overview page"),
        field("login-hint", "Host account (optional)", hint, "Pre-fills the sign-in page")),
      h("h3", {}, "Permissions asked for, and why"),
      permissionList,
      h("div", { class: "approaches" },
        h("article", { class: "approach", "aria-labelledby": "a1" },
          h("h3", { id: "a1" }, h("span", { class: "step" }, "1"), "Host sign-in"),
          h("p", {}, "The dedicated host account (", h("strong", {}, "Teams Scheduler"), ") signs in in your browser. Meetings are created as this account."),
          h("p", { class: "who" }, h("strong", {}, "Who: "), "anyone with the host account's password. It works once the permissions are approved for the organization, or if your tenant lets users approve them for themselves."),
          connectHost),
        h("article", { class: "approach", "aria-labelledby": "a2" },
          h("h3", { id: "a2" }, h("span", { class: "step" }, "2"), "Organization-wide approval"),
          h("p", {}, "A global admin of the tenant approves the permissions once, for the whole organization (Microsoft's admin consent page). Then the host account signs in."),
          h("p", { class: "who" }, h("strong", {}, "Who: "), "a global admin of your Microsoft 365 tenant. Not here? Copy the address and send it to them."),
          h("div", { class: "copy-row" }, consentUrl, copy),
          connectAdmin)),
      progress, error),
    h("section", { class: "card", "aria-labelledby": "sandbox-title" },
      h("h2", { id: "sandbox-title" }, "Try it without a tenant"),
      h("p", {}, "The sandbox tenant is a local emulator of Microsoft's sign-in and Graph running inside this app. It needs no Microsoft account or network and approves every permission automatically; nothing reaches Microsoft."),
      explore),
    storeCard(),
    diagnosticsCard(),
  );
  showSandboxField();
  await Promise.all([refresh(), agents.refresh()]);
  liveReload(root, ["work_queue", "agents"], () => agents.refresh());
  // Arriving from the welcome page's "Connect a Microsoft 365 tenant": straight to the form.
  if (location.hash.includes("?connect")) {
    document.getElementById("connect-card").scrollIntoView({ block: "start" });
    if (!tenant.disabled) tenant.focus();
  }
}
