// Members page (support staff): look up an address in the tenant's directory (member, guest, not
// found or ambiguous; which rule matched; cached or fresh, with Refresh) and diagnose whether a
// person can be offered a Teams meeting in a program, each check with pass/fail and its fix.
import { invoke } from "../ipc.js";
import { h, errorText, field } from "../dom.js";
import { programPicker } from "../picker.js";

const CLASS_TEXT = {
  member: ["ok", "Member", "A member of your tenant."],
  guest: ["warn", "Guest", "A B2B guest in your tenant (invited from another organization)."],
  not_found: ["danger", "Not found", "No user in your tenant has this address."],
  ambiguous: ["danger", "Ambiguous", "More than one user has this address; fix the directory so one user owns it."],
};
const RULE_TEXT = { upn: "User principal name", mail: "Primary email (mail)", proxy_address: "Email alias (proxyAddresses)" };

export async function render(root) {
  const address = h("input", { id: "member-address", type: "text", required: true, autocomplete: "off", placeholder: "name@example.com", inputmode: "email" });
  const picker = programPicker({ id: "member-program", none: "No program" });
  const program = picker.select;
  const check = h("button", { id: "member-check", type: "submit" }, "Check");
  const diagnose = h("button", { id: "member-diagnose", type: "button", class: "secondary" }, "Diagnose for program");
  const error = h("div", { id: "member-error", class: "alert error", role: "alert" });
  const result = h("section", { id: "member-result", class: "card", hidden: true, "aria-live": "polite", "aria-labelledby": "member-result-title" });
  const diag = h("section", { id: "member-diagnosis", class: "card", hidden: true, "aria-live": "polite", "aria-labelledby": "diagnosis-title" });
  const empty = h("p", { id: "member-empty", class: "empty" }, "No address checked yet — type an email address or UPN above and press Check; choose a program too to diagnose whether they can be offered a Teams meeting there.");

  const form = h("form", { id: "member-form", novalidate: true },
    h("div", { class: "form-row" },
      field("member-address", "Address", address, "Email, UPN or a guest's #EXT# UPN"),
      field("member-program", "Program (optional)", program, picker.find, "Needed for Diagnose; lets a program's staff check"),
      check, diagnose),
    error);

  async function lookup(refresh) {
    error.textContent = "";
    // A diagnosis of another address would be misleading next to this card.
    if (diag.dataset.address !== address.value.trim().toLowerCase()) diag.hidden = true;
    check.disabled = true;
    empty.hidden = true;
    result.hidden = false;
    result.replaceChildren(h("div", { class: "progress" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Checking the directory…"));
    try {
      const m = await invoke("members_check", { input: { address: address.value, program: program.value || null, refresh } });
      showCard(m);
    } catch (e) {
      result.hidden = true;
      error.textContent = errorText(e);
    } finally {
      check.disabled = false;
    }
  }

  function showCard(m) {
    const [kind, word, explain] = CLASS_TEXT[m.class] || ["muted", m.class, ""];
    const refreshBtn = h("button", { id: "member-refresh", type: "button", class: "secondary small" }, "Refresh");
    refreshBtn.addEventListener("click", () => lookup(true));
    const fact = (id, label, value) => [h("dt", {}, label), h("dd", { id }, value ?? "—")];
    result.replaceChildren(
      h("div", { class: "toolbar" },
        h("h2", { id: "member-result-title" }, m.address, " ", h("span", { id: "member-class", class: `badge ${kind}`, "data-class": m.class }, word)),
        refreshBtn),
      h("p", { class: "lead" }, explain),
      h("dl", { class: "facts" },
        fact("member-matched-by", "Matched by", m.matched_by ? RULE_TEXT[m.matched_by] || m.matched_by : "no rule matched"),
        fact("member-display-name", "Display name", m.display_name),
        fact("member-upn", "UPN", m.upn),
        fact("member-object-id", "Object id", m.object_id),
        fact("member-checked-at", "Checked at (UTC)", m.checked_at),
        fact("member-source", "Answer", m.from_cache ? "Cached (use Refresh to ask the directory again)" : "Fresh from the directory")));
    result.hidden = false;
  }

  async function runDiagnosis() {
    error.textContent = "";
    if (!program.value) { error.textContent = "Choose a program to diagnose the address for."; program.focus(); return; }
    diagnose.disabled = true;
    empty.hidden = true;
    diag.hidden = false;
    diag.replaceChildren(h("div", { class: "progress" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Diagnosing…"));
    try {
      const d = await invoke("members_diagnose", { input: { address: address.value, program: program.value, refresh: false } });
      diag.dataset.address = d.address;
      diag.replaceChildren(
        h("h2", { id: "diagnosis-title" }, `Can ${d.address} be offered a Teams meeting in ${d.program}?`),
        h("p", { id: "diagnosis-verdict", class: `alert ${d.ok ? "ok" : "error"}` },
          d.ok ? "Yes: every check passed." : `No: ${d.checks.filter((c) => !c.passed).length} check(s) failed. Fix them as listed below.`),
        h("table", { id: "diagnosis-checks" },
          h("thead", {}, h("tr", {}, h("th", {}, "Check"), h("th", {}, "Result"), h("th", {}, "Details"), h("th", {}, "Fix"))),
          h("tbody", {}, d.checks.map((c) => h("tr", { "data-check": c.check, "data-passed": String(c.passed) },
            h("td", {}, c.label),
            h("td", {}, h("span", { class: `badge ${c.passed ? "ok" : "danger"}` }, c.passed ? "Pass" : "Fail")),
            h("td", {}, c.detail),
            h("td", {}, c.fix || ""))))));
    } catch (e) {
      diag.hidden = true;
      error.textContent = errorText(e);
    } finally {
      diagnose.disabled = false;
    }
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); lookup(false); });
  diagnose.addEventListener("click", runDiagnosis);

  root.append(
    h("h1", {}, "Members"),
    h("p", { class: "lead" }, "Check whether a person is a member or a guest of your tenant, and why they can or cannot be offered a Teams meeting in a program."),
    h("section", { class: "card", "aria-labelledby": "lookup-title" }, h("h2", { id: "lookup-title" }, "Look up an address"), form),
    empty,
    result,
    diag,
  );
  // The lookup works without a program: a failed read only leaves the picker empty.
  if (!(await picker.load().catch(() => 0))) {
    empty.append(" There are no programs yet: create one on ", h("a", { href: "#/programs" }, "Programs"), " to diagnose for it.");
  }
  address.focus();
}
