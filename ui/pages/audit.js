// Audit page: every change anyone made, filtered by operator, program, action and dates, and
// exported as CSV or JSON (a Blob download).
import { invoke, download } from "../ipc.js";
import { h, errorText, field } from "../dom.js";
import { pagedList } from "../list.js";
import { liveReload } from "../live.js";

const ACTIONS = [
  "program.create", "program.edit", "program.archive", "program.unarchive", "program.mode_enable", "program.mode_disable",
  "participant.add", "participant.remove", "participants.import",
  "operator.add", "operator.remove", "operator.grant", "operator.revoke", "operator.activate", "operator.deactivate", "operator.bootstrap", "operator.link",
  "integration.connect", "integration.remove", "meeting.create", "meeting.reschedule", "meeting.cancel",
  "demo.prefill", "settings.welcome_dismissed",
];

function nextDay(d) {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + 1);
  return t.toISOString().slice(0, 10);
}

export async function render(root) {
  const operator = h("input", { id: "audit-operator", autocomplete: "off", placeholder: "any" });
  const program = h("input", { id: "audit-program", autocomplete: "off", placeholder: "any" });
  const action = h("select", { id: "audit-action" }, h("option", { value: "" }, "Any action"), ACTIONS.map((a) => h("option", { value: a }, a)));
  const since = h("input", { id: "audit-since", type: "date" });
  const until = h("input", { id: "audit-until", type: "date" });
  const apply = h("button", { id: "audit-apply", type: "submit" }, "Apply");
  const csv = h("button", { id: "audit-export-csv", type: "button", class: "secondary" }, "Export CSV");
  const json = h("button", { id: "audit-export-json", type: "button", class: "secondary" }, "Export JSON");
  const error = h("div", { id: "audit-error", class: "alert error", role: "alert" });
  const form = h("form", { id: "audit-filters", novalidate: true },
    h("div", { class: "form-row" },
      field("audit-operator", "Operator", operator), field("audit-program", "Program code", program), field("audit-action", "Action", action),
      field("audit-since", "From", since), field("audit-until", "To (inclusive)", until), apply));

  const filter = () => ({
    operator: operator.value || null, program: program.value || null, action: action.value || null,
    since: since.value || null, until: until.value ? nextDay(until.value) : null,
  });

  const list = pagedList({
    id: "audit-list",
    noun: "entries",
    fetchPage: (cursor, limit) => invoke("audit_page", { filter: { ...filter(), limit }, cursor }),
    table,
    row: auditRow,
    empty: () => h("p", { class: "empty", id: "audit-empty" }, Object.values(filter()).some((v) => v)
      ? "No audit entries match these filters — clear a filter or widen the dates, then Apply."
      : "Nothing recorded yet — every change made here or with tsched (programs, participants, operators, the integration, meetings) appears in this list."),
  });

  async function refresh() {
    error.textContent = "";
    await list.refresh({ reset: true });
  }

  async function exportAs(format) {
    error.textContent = "";
    try {
      const text = await invoke("audit_export", { filter: filter(), format });
      const stamp = new Date().toISOString().slice(0, 10);
      await download(`teams-scheduler-audit-${stamp}.${format}`, format === "csv" ? "text/csv" : "application/json", text);
    } catch (e) { error.textContent = errorText(e); }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
  csv.addEventListener("click", () => exportAs("csv"));
  json.addEventListener("click", () => exportAs("json"));

  root.append(
    h("h1", {}, "Audit"),
    h("p", { class: "lead" }, "Every change anyone makes is recorded here, with who, when and what changed. Entries cannot be edited or deleted, and never contain a password or token."),
    h("section", { class: "card", "aria-labelledby": "filters-title" }, h("h2", { id: "filters-title" }, "Filters"), form),
    h("section", { class: "card" }, h("div", { class: "toolbar" }, h("h2", {}, "Entries"), h("div", { class: "toolbar-controls" }, csv, json)), error, list.el),
  );
  // A change reloads the rows shown, as far as they were scrolled (refresh() starts again).
  liveReload(root, ["audit_log"], () => list.refresh());
  await refresh();
}

const show = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** What changed, key by key: "name: Old → New"; a creation or removal lists its values. */
function change(r) {
  const before = r.before && typeof r.before === "object" ? r.before : null;
  const after = r.after && typeof r.after === "object" ? r.after : null;
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const lines = [];
  for (const k of keys) {
    const b = before ? before[k] : undefined;
    const a = after ? after[k] : undefined;
    if (before && after) {
      if (JSON.stringify(a) !== JSON.stringify(b)) lines.push(h("li", {}, h("span", { class: "key" }, k), " ", show(b), " → ", show(a)));
    } else {
      lines.push(h("li", {}, h("span", { class: "key" }, k), " ", show(before ? b : a)));
    }
  }
  if (!lines.length) return h("span", { class: "hint" }, before || after ? "no visible change" : "");
  return h("ul", { class: "diff" }, before && !after ? h("li", { class: "hint" }, "removed:") : null, lines);
}

function table() {
  return h("table", { id: "audit-table", class: "dense" },
    h("thead", {}, h("tr", {}, h("th", {}, "When (UTC)"), h("th", {}, "Operator"), h("th", {}, "Action"), h("th", {}, "Target"), h("th", {}, "Change"))),
    h("tbody", {}));
}

function auditRow(r) {
  return h("tr", {},
    h("td", { class: "nowrap" }, r.at.replace("T", " ").replace("Z", "")),
    h("td", {}, atBreak(r.operator),
      // Named without proof under the test-only impersonation switch: say who really acted.
      r.real_actor ? h("div", { class: "impersonated", title: "named with --as / TSCHED_OPERATOR, not signed in" }, `impersonated by ${r.real_actor}`) : null),
    h("td", {}, h("code", {}, r.action)),
    h("td", {}, r.target),
    h("td", { class: "change" }, change(r)));
}

/** An address that may wrap before its "@" rather than inside a word. */
function atBreak(address) {
  const at = address.indexOf("@");
  return at > 0 ? [address.slice(0, at), h("wbr"), address.slice(at)] : address;
}
