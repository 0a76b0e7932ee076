// Programs page: list with search, and a form to add a program.
import { invoke, h, errorText } from "../ipc.js";

const MODE_LABELS = { in_person: "In person", phone: "Phone", teams_video: "Teams video call" };

export async function render(root) {
  const list = h("div", { id: "programs-list" });
  const search = h("input", { id: "program-search", type: "search", placeholder: "Search name or code", "aria-label": "Search programs" });
  const status = h("div", { id: "program-status", class: "alert", role: "status" });
  const error = h("div", { id: "program-error", class: "alert error", role: "alert" });

  const name = h("input", { id: "program-name", name: "name", required: true, maxlength: "120", autocomplete: "off" });
  const code = h("input", { id: "program-code", name: "code", maxlength: "32", autocomplete: "off", placeholder: "derived from the name" });
  const description = h("input", { id: "program-description", name: "description", autocomplete: "off" });
  const form = h("form", { id: "program-form", novalidate: true },
    h("div", { class: "form-row" },
      h("div", { class: "field" }, h("label", { for: "program-name" }, "Name"), name),
      h("div", { class: "field" }, h("label", { for: "program-code" }, "Code"), code,
        h("span", { class: "hint" }, "a-z, 0-9, - and _; unique")),
      h("div", { class: "field" }, h("label", { for: "program-description" }, "Description"), description),
      h("button", { id: "program-add", type: "submit" }, "Add program")),
    error, status);

  async function refresh() {
    try {
      const rows = await invoke("programs_list", { search: search.value || null });
      list.replaceChildren(rows.length ? table(rows) : h("p", { class: "empty" },
        search.value ? "No program matches this search." : "No programs yet. Add your first program above: give it a name, and a short code if you like."));
    } catch (e) {
      list.replaceChildren(h("div", { class: "alert error", role: "alert" }, errorText(e)));
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    status.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const p = await invoke("programs_add", { input: { name: name.value, code: code.value || null, description: description.value || null } });
      status.className = "alert ok";
      status.textContent = `Added ${p.name} (${p.code}).`;
      form.reset();
      await refresh();
      name.focus();
    } catch (e) {
      error.textContent = errorText(e);
    } finally {
      button.disabled = false;
    }
  });
  search.addEventListener("input", refresh);

  root.append(
    h("h1", {}, "Programs"),
    h("p", { class: "lead" }, "Each program (track) decides which meeting modes its participants may choose."),
    h("section", { class: "card", "aria-labelledby": "add-title" }, h("h2", { id: "add-title" }, "Add a program"), form),
    h("section", { class: "card" }, h("div", { class: "toolbar" }, h("h2", {}, "All programs"), search), list),
  );
  await refresh();
}

function table(rows) {
  return h("table", { id: "programs-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Code"), h("th", {}, "Name"), h("th", {}, "Meeting modes"), h("th", {}, "Status"))),
    h("tbody", {}, rows.map((p) => h("tr", { "data-code": p.code },
      h("td", {}, h("code", {}, p.code)),
      h("td", {}, p.name),
      h("td", {}, p.enabled_modes.length ? p.enabled_modes.map((m) => h("span", { class: "chip" }, MODE_LABELS[m] || m)) : "none"),
      h("td", {}, p.archived ? "Archived" : "Active")))));
}
