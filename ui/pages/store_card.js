// The Integration page's "Store" card: which store this workstation works with (the embedded
// file or a team database: address without password, login, schema version, reachable or why
// not), pointing it at a team database (URL, CA file, password: checked by connecting and kept
// in the OS keyring) or back to the embedded store. After a change the window reloads, so every
// page, the header and the live updates start over on the new store.
import { invoke } from "../ipc.js";
import { h, field, act, confirmInline } from "../dom.js";

const SOURCE_TEXT = {
  env: "chosen by TSCHED_DATABASE_URL",
  config_file: "chosen on this workstation (store.toml)",
  default: "the default",
};

function facts(s) {
  const rows = [];
  const row = (k, v, id) => { if (v != null && v !== "") rows.push(h("dt", {}, k), h("dd", { id }, String(v))); };
  row("Store", s.store === "shared" ? "Team database (PostgreSQL)" : s.store === "embedded" ? "This computer only (embedded file)" : "Unknown", "store-kind");
  row(s.store === "shared" ? "Address" : "File", s.address, "store-address");
  row("Chosen", SOURCE_TEXT[s.source] || s.source, "store-source");
  row("Login", s.login, "store-login");
  row("Schema version", s.schema_version, "store-schema");
  rows.push(h("dt", {}, "Reachable"), h("dd", { id: "store-reachable", class: s.reachable ? "" : "danger" }, s.reachable ? "yes" : `no: ${s.error || "unknown"}`));
  return h("dl", { class: "facts" }, rows);
}

export function storeCard() {
  const card = h("section", { id: "store-card", class: "card", "aria-labelledby": "store-title" });
  const error = h("div", { id: "store-error", class: "alert error", role: "alert" });
  const status = h("p", { id: "store-result", role: "status", "aria-live": "polite" });

  function draw(s) {
    const parts = [h("h2", { id: "store-title" }, "Store"), facts(s)];
    if (!s.can_change) {
      parts.push(h("p", { class: "hint" }, "TSCHED_DATABASE_URL names this window's store; unset it and start the app again to choose here."));
    } else {
      const url = h("input", { id: "store-url", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "postgres://you@db.example.com:5432/teams?sslmode=verify-full" });
      const ca = h("input", { id: "store-ca", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "/etc/ssl/team-ca.pem" });
      const pw = h("input", { id: "store-password", type: "password", autocomplete: "off" });
      const use = h("button", { id: "store-use", type: "submit" }, "Use this team database");
      const run = act({ error, status });
      const form = h("form", { id: "store-form" },
        h("div", { class: "form-row" },
          field("store-url", "Team database", url, "Your login is the user part; no password here"),
          field("store-ca", "Server CA file (optional)", ca, "PEM file of the CA that signed the server's certificate"),
          field("store-password", "Your database password", pw, "Checked by connecting, then kept in this computer's keyring")),
        h("div", { class: "actions" }, use));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        use.disabled = true;
        run(async () => {
          const next = await invoke("store_use", { input: { url: url.value, ca_file: ca.value || null, password: pw.value || null } });
          pw.value = "";
          switched(next);
        }).finally(() => { use.disabled = false; });
      });
      parts.push(h("h3", {}, s.store === "shared" ? "Work with another team database" : "Work with a team database"), form);
      if (s.store === "shared" && s.source === "config_file") {
        const box = h("div", { class: "danger-zone" });
        const back = h("button", { id: "store-forget", type: "button", class: "secondary" }, "Back to the embedded store");
        parts.push(confirmInline(box, back, {
          question: "Work with this computer's embedded store again? The team database's address and your saved password are forgotten here; the team database keeps everything.",
          yes: "Back to the embedded store", no: "Stay",
          ids: { confirm: "store-forget-confirm", question: "store-forget-q", yes: "store-forget-yes", no: "store-forget-no" },
          onYes: async (yes) => {
            yes.disabled = true;
            await act({ error, status })(async () => switched(await invoke("store_forget")));
          },
        }));
      }
    }
    parts.push(status, error);
    card.replaceChildren(...parts);
  }

  // The window starts over on the new store: pages, header, live updates.
  function switched(s) {
    draw(s);
    status.textContent = "Switched store; reloading the window…";
    setTimeout(() => location.reload(), 300);
  }

  card.append(h("h2", { id: "store-title" }, "Store"), h("p", {}, "Loading…"));
  invoke("store_status").then(draw, (e) => { error.textContent = e.message || String(e); card.append(error); });
  return card;
}
