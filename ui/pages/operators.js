// Operators page (global admins manage, support reads): the roster, add, grant and revoke roles,
// deactivate or reactivate, remove. A banner explains setup mode while there are no operators.
// A roster row has one button, Manage: it picks the operator in the grant form and opens their
// card (revoke a role, deactivate or reactivate, remove). Rows with three buttons and one per
// role were the dearest of the list pages to draw (docs/BENCHMARKS.md).
import { invoke } from "../ipc.js";
import { h, field, confirmInline, act as actions, roleText, ROLE_LABELS } from "../dom.js";
import { pagedList } from "../list.js";
import { liveReload } from "../live.js";
import { programPicker } from "../picker.js";
import { refreshSession } from "../session.js";

export async function render(root) {
  const banner = h("div", { id: "setup-banner", class: "banner", role: "status", hidden: true },
    h("strong", {}, "Setup mode. "),
    "There are no operators yet, so anyone using this computer may do everything. Add the first operator: they become global admin and setup mode ends, so add yourself first (the address this app acts as, TSCHED_OPERATOR).");
  const error = h("div", { id: "operators-error", class: "alert error", role: "alert" });
  const status = h("div", { id: "operators-status", class: "alert ok", role: "status" });
  const detail = h("section", { id: "operator-detail", class: "card", hidden: true, tabindex: "-1", "aria-labelledby": "operator-detail-title" });
  let openUpn = null;

  const upn = h("input", { id: "operator-upn", type: "email", autocomplete: "off", placeholder: "ann@contoso.com" });
  const dname = h("input", { id: "operator-name", autocomplete: "off" });
  const addForm = h("form", { id: "operator-form", novalidate: true },
    h("div", { class: "form-row" },
      field("operator-upn", "Sign-in name (UPN)", upn),
      field("operator-name", "Display name", dname),
      h("button", { id: "operator-add", type: "submit" }, "Add operator")));

  // Any operator of the roster by name (the roster can be longer than a page), or filled in by a
  // row's "Grant role" button; the core refuses a name that is not on the roster.
  const grantUpn = h("input", { id: "grant-upn", type: "email", required: true, autocomplete: "off", placeholder: "ann@contoso.com" });
  const grantRole = h("select", { id: "grant-role" }, Object.entries(ROLE_LABELS).map(([v, t]) => h("option", { value: v }, t)));
  const picker = programPicker({ id: "grant-program" });
  const grantProgram = picker.select;
  const programField = field("grant-program", "Program", grantProgram, picker.find);
  const grantForm = h("form", { id: "grant-form", novalidate: true },
    h("div", { class: "form-row" },
      field("grant-upn", "Operator", grantUpn),
      field("grant-role", "Role", grantRole),
      programField,
      h("button", { id: "grant-submit", type: "submit" }, "Grant role")));
  const perProgram = () => grantRole.value === "track_admin" || grantRole.value === "coordinator";
  const syncProgram = () => { programField.hidden = !perProgram(); };
  grantRole.addEventListener("change", syncProgram);

  const act = actions({ error, status, after: async () => { await refresh(); refreshSession(); } });

  addForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const u = upn.value;
    act(async () => { await invoke("operators_add", { upn: u, displayName: dname.value || null }); addForm.reset(); }, `Added ${u}.`);
  });
  grantForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const program = perProgram() ? grantProgram.value : null;
    act(() => invoke("operators_grant", { upn: grantUpn.value, role: grantRole.value, program }),
      `Granted ${roleText({ role: grantRole.value, program })} to ${grantUpn.value}.`);
  });

  const list = pagedList({
    id: "operators-list",
    noun: "operators",
    fetchPage: (cursor, limit) => invoke("operators_page", { cursor, limit }),
    table: () => h("table", { id: "operators-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Operator"), h("th", {}, "Roles"), h("th", {}, "Status"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {})),
    row: operatorRow,
    empty: () => h("p", { class: "empty", id: "operators-empty" }, "No operators yet — until there is one, anyone using this computer may do everything. Add yourself first with the form below; you become global admin."),
  });

  async function refresh() {
    // Setup mode is an empty roster, so the first page says it.
    const setup = (await list.refresh()) && list.items().length === 0;
    banner.hidden = !setup;
    if (openUpn !== null) {
      const o = list.items().find((r) => r.upn === openUpn);
      if (o) showDetail(o); else { openUpn = null; detail.hidden = true; }
    }
    const s = await refreshSession();
    if (setup && s && s.operator && !upn.value) upn.value = s.operator;
  }

  // The grant form's programs: read once (this page changes operators, not programs).
  async function loadPrograms() {
    try { await picker.load(); } catch { grantProgram.replaceChildren(); }
  }

  function operatorRow(o) {
    return h("tr", { "data-upn": o.upn, class: o.active ? null : "inactive" },
      h("td", {}, h("div", {}, o.upn), o.display_name ? h("div", { class: "hint" }, o.display_name) : null),
      h("td", {}, o.roles.length ? o.roles.map((g) => h("span", { class: "chip" }, roleText(g))) : h("span", { class: "hint" }, "no roles")),
      h("td", {}, o.active ? "Active" : "Deactivated"),
      h("td", { class: "row-actions" },
        h("button", {
          type: "button", class: "secondary small grant-open operator-manage", "aria-label": `Manage ${o.upn}`,
          onclick: () => { openUpn = o.upn; grantUpn.value = o.upn; showDetail(o); detail.focus(); },
        }, "Manage")));
  }

  // One operator's card: each role with Revoke, Deactivate or Reactivate, and Remove.
  function showDetail(o) {
    const role = (g) => h("li", {}, h("span", { class: "chip" }, roleText(g)), " ",
      h("button", {
        type: "button", class: "secondary small operator-revoke", "aria-label": `Revoke ${roleText(g)} from ${o.upn}`,
        onclick: () => act(() => invoke("operators_revoke", { upn: o.upn, role: g.role, program: g.program }), `Revoked ${roleText(g)} from ${o.upn}.`),
      }, "Revoke"));
    detail.replaceChildren(
      h("div", { class: "toolbar" },
        h("h2", { id: "operator-detail-title" }, o.upn),
        h("button", { id: "operator-detail-close", type: "button", class: "secondary small", onclick: () => { openUpn = null; detail.hidden = true; } }, "Close")),
      o.roles.length ? h("ul", { id: "operator-roles" }, o.roles.map(role)) : h("p", { class: "hint" }, "No roles yet."),
      h("p", { class: "hint" }, "They are picked in Grant a role below."),
      h("div", { class: "actions" },
        h("button", {
          id: "operator-set-active", type: "button", class: "secondary", "aria-label": `${o.active ? "Deactivate" : "Reactivate"} ${o.upn}`,
          onclick: () => act(() => invoke("operators_set_active", { upn: o.upn, active: !o.active }), `${o.active ? "Deactivated" : "Reactivated"} ${o.upn}.`),
        }, o.active ? "Deactivate" : "Reactivate"),
        removeButton(o)));
    detail.hidden = false;
  }

  function removeButton(o) {
    const btn = h("button", { type: "button", class: "secondary small", "aria-label": `Remove ${o.upn}` }, "Remove");
    return confirmInline(h("span", {}), btn, {
      question: "Remove? ", yesLabel: `Confirm removing ${o.upn}`, compact: true,
      onYes: () => act(() => invoke("operators_remove", { upn: o.upn }), `Removed ${o.upn}.`),
    });
  }

  root.append(
    h("h1", {}, "Operators"),
    h("p", { class: "lead" }, "The people who use Teams Scheduler and what each may do: global admins manage everything, track admins their programs' settings, coordinators their programs' meetings, support reads everything."),
    banner,
    h("section", { class: "card", "aria-labelledby": "roster-title" }, h("h2", { id: "roster-title" }, "Operators"), list.el, error, status),
    detail,
    h("section", { class: "card", "aria-labelledby": "op-add-title" }, h("h2", { id: "op-add-title" }, "Add an operator"), addForm),
    h("section", { class: "card", "aria-labelledby": "grant-title" }, h("h2", { id: "grant-title" }, "Grant a role"), grantForm),
  );
  syncProgram();
  liveReload(root, ["operators", "operator_roles"], () => refresh());
  await Promise.all([refresh(), loadPrograms()]);
}
