// Programs page: list with search, a form to add a program, and a settings panel per program
// (meeting modes, name and description, archive, participants). Controls the acting operator may
// not use are disabled with the reason next to them; the core refuses them anyway.
// Every change of a program sends the version the panel was drawn from: if another workstation
// changed the program since, the core refuses with who and when, and the panel offers a reload.
import { invoke } from "../ipc.js";
import { h, errorText, field } from "../dom.js";
import { refreshSession } from "../session.js";
import { pagedList } from "../list.js";
import { liveReload } from "../live.js";

const MODE_LABELS = { in_person: "In person", phone: "Phone", teams_video: "Teams video call" };

/** Whether `e` refuses a change made on data someone changed meanwhile (the core's message ends
 *  with its RELOAD_HINT), as opposed to other conflicts such as a name already taken. */
function isStale(e) {
  return Boolean(e && e.code === "conflict" && /reload and try again$/.test(e.message || ""));
}

export async function render(root) {
  const panel = h("section", { id: "program-panel", class: "card", hidden: true, "aria-labelledby": "panel-title", tabindex: "-1" });
  const search = h("input", { id: "program-search", type: "search", placeholder: "Search name or code", "aria-label": "Search programs" });
  const archivedToggle = h("input", { id: "show-archived", type: "checkbox" });
  const status = h("div", { id: "program-status", class: "alert", role: "status" });
  const error = h("div", { id: "program-error", class: "alert error", role: "alert" });

  const name = h("input", { id: "program-name", name: "name", required: true, maxlength: "120", autocomplete: "off" });
  const code = h("input", { id: "program-code", name: "code", maxlength: "32", autocomplete: "off", placeholder: "derived from the name" });
  const description = h("input", { id: "program-description", name: "description", autocomplete: "off" });
  const form = h("form", { id: "program-form", novalidate: true },
    h("div", { class: "form-row" },
      field("program-name", "Name", name),
      field("program-code", "Code", code, "a-z, 0-9, - and _; unique"),
      field("program-description", "Description", description),
      h("button", { id: "program-add", type: "submit" }, "Add program")),
    error, status);

  let openCode = null;
  let sessionKnown = Promise.resolve();

  const list = pagedList({
    id: "programs-list",
    noun: "programs",
    // Drawn once the session is known too: the empty list's advice depends on it.
    fetchPage: async (cursor, limit) => {
      const page = await invoke("programs_page", { search: search.value || null, includeArchived: archivedToggle.checked, cursor, limit });
      await sessionKnown;
      return page;
    },
    table,
    row: programRow,
    empty: emptyList,
  });

  async function refresh(opts) {
    await list.refresh(opts);
    if (openCode) {
      const p = list.items().find((r) => r.code === openCode);
      if (p) await showPanel(p); else { panel.hidden = true; openCode = null; }
    }
  }

  function emptyList() {
    if (search.value) return h("p", { class: "empty", id: "programs-empty" }, "No program matches this search — try part of the name or the code, or clear the search.");
    if (addCard.hidden) return h("p", { class: "empty", id: "programs-empty" }, "No programs you can see yet — a global admin creates programs and can give you a role in one on the Operators page.");
    return h("p", { class: "empty", id: "programs-empty" }, "No programs yet — create one with the form above, or ",
      h("a", { href: "#/welcome" }, "explore with the sandbox tenant"), " to see a few filled-in examples.");
  }

  function table() {
    return h("table", { id: "programs-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Code"), h("th", {}, "Name"), h("th", {}, "Meeting modes"), h("th", {}, "Status"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}));
  }

  function programRow(p) {
    return h("tr", { "data-code": p.code, class: p.code === openCode ? "selected" : null },
      h("td", {}, h("code", {}, p.code)),
      h("td", {}, p.name),
      h("td", {}, modeChips(p)),
      h("td", {}, p.archived ? "Archived" : "Active"),
      h("td", { class: "row-actions" }, h("button", {
        type: "button", class: "secondary small program-open", "data-code": p.code, "aria-label": `Settings of ${p.name}`,
        onclick: async () => { openCode = p.code; await refresh(); panel.focus(); },
      }, "Settings")));
  }

  function modeChips(p) {
    const on = p.modes.filter((m) => m.chosen);
    if (!on.length) return "none";
    return on.map((m) => h("span", { class: `chip ${m.status === "unavailable" ? "unavailable" : ""}`, title: m.reason || "" },
      MODE_LABELS[m.mode] || m.mode, m.status === "unavailable" ? " (unavailable)" : ""));
  }

  async function showPanel(p) {
    panel.hidden = false;
    const panelError = h("div", { id: "panel-error", class: "alert error", role: "alert" });
    const panelStatus = h("div", { id: "panel-status", class: "alert ok", role: "status" });
    // Runs a change, then redraws the list and this panel (with the program's new version); a
    // refusal stays in the panel, with a Reload button when the program changed meanwhile.
    const act = async (fn, done) => {
      panelError.replaceChildren();
      try {
        await fn();
        await refresh();
        // The refresh may have drawn the panel afresh: say it in the status line on screen.
        const status = document.getElementById("panel-status");
        if (done && status) status.textContent = done;
      } catch (e) {
        panelError.replaceChildren(errorText(e));
        if (isStale(e)) {
          panelError.append(" ", h("button", { type: "button", id: "panel-reload", class: "secondary small", onclick: () => refresh() }, "Reload"));
        }
      }
    };
    panel.replaceChildren(
      h("div", { class: "toolbar" },
        h("h2", { id: "panel-title" }, `${p.name} `, h("code", {}, p.code), p.archived ? h("span", { class: "badge muted" }, "Archived") : null),
        h("button", { type: "button", class: "secondary small", id: "panel-close", onclick: () => { openCode = null; panel.hidden = true; panel.replaceChildren(); refresh(); } }, "Close")),
      modesSection(p, act),
      detailsSection(p, act),
      await participantsSection(p, act),
      panelError, panelStatus);
  }

  function modesSection(p, act) {
    const perm = p.allowed.modes;
    const items = p.modes.map((m) => {
      const id = `mode-${m.mode}`;
      const unusable = m.status === "unavailable" && !m.chosen;
      const box = h("input", {
        id, type: "checkbox", role: "switch", class: "switch", checked: m.chosen,
        disabled: !perm.allowed || p.archived || unusable, "aria-describedby": perm.allowed ? `${id}-state` : `${id}-state modes-denied`,
      });
      box.addEventListener("change", () => act(() => invoke("programs_set_mode", { code: p.code, mode: m.mode, enabled: box.checked, version: p.version })));
      let state;
      if (m.status === "unavailable") state = m.reason || "unavailable";
      else state = m.chosen ? "On" : "Off";
      return h("li", { class: `mode ${m.status}` },
        box, h("label", { for: id }, MODE_LABELS[m.mode] || m.mode),
        h("span", { class: `mode-state ${m.status}`, id: `${id}-state` }, state));
    });
    return h("section", { class: "panel-part", "aria-labelledby": "modes-title" },
      h("h3", { id: "modes-title" }, "Meeting modes"),
      h("p", { class: "hint" }, "Which ways of meeting participants of this program may choose."),
      perm.allowed ? null : h("p", { class: "locked", id: "modes-denied" }, `You cannot change these: ${perm.reason}.`),
      h("ul", { class: "modes", id: "program-modes" }, items));
  }

  function detailsSection(p, act) {
    const editName = h("input", { id: "edit-name", value: p.name, maxlength: "120", disabled: !p.allowed.edit.allowed || p.archived });
    const editDesc = h("input", { id: "edit-description", value: p.description || "", disabled: !p.allowed.edit.allowed || p.archived });
    const save = h("button", { id: "program-save", type: "submit", disabled: !p.allowed.edit.allowed || p.archived }, "Save");
    const f = h("form", { id: "program-edit", novalidate: true },
      h("div", { class: "form-row" },
        field("edit-name", "Name", editName),
        field("edit-description", "Description", editDesc),
        save));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(() => invoke("programs_edit", { code: p.code, name: editName.value, description: editDesc.value, version: p.version }), "Saved.");
    });
    const archive = h("button", { id: "program-archive", type: "button", class: "secondary", disabled: !p.allowed.archive.allowed },
      p.archived ? "Unarchive program" : "Archive program");
    archive.addEventListener("click", () => act(() => invoke("programs_archive", { code: p.code, archived: !p.archived, version: p.version }),
      p.archived ? "Unarchived." : "Archived: the program keeps everything but refuses changes."));
    return h("section", { class: "panel-part", "aria-labelledby": "details-title" },
      h("h3", { id: "details-title" }, "Name and description"),
      f,
      p.allowed.edit.allowed ? null : h("p", { class: "reason" }, `You cannot edit this program: ${p.allowed.edit.reason}`),
      h("div", { class: "actions" }, archive,
        p.allowed.archive.allowed ? null : h("span", { class: "reason" }, p.allowed.archive.reason)));
  }

  async function participantsSection(p, act) {
    const can = p.allowed.participants.allowed && !p.archived;
    const people = pagedList({
      id: "participants-list",
      noun: "participants",
      sinceRoute: false,
      fetchPage: (cursor, limit) => invoke("participants_page", { code: p.code, cursor, limit }),
      table: () => h("table", { id: "participants-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Email"), h("th", {}, "Name"), h("th", {}, "Added"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
        h("tbody", {})),
      row: personRow,
      empty: () => h("p", { class: "empty", id: "participants-empty" }, can
        ? "No participants yet — add one by email below, or import a CSV file with the columns email,display_name."
        : "No participants yet — someone who may change this program's participants adds them here."),
    });
    function personRow(r) {
      return h("tr", {},
        h("td", {}, r.email), h("td", {}, r.display_name), h("td", {}, r.added_at.slice(0, 10)),
        h("td", { class: "row-actions" }, h("button", {
          type: "button", class: "secondary small", disabled: !can, "aria-label": `Remove ${r.email}`,
          onclick: () => act(() => invoke("participants_remove", { code: p.code, email: r.email }), `Removed ${r.email}.`),
        }, "Remove")));
    }
    await people.refresh();
    const email = h("input", { id: "participant-email", type: "email", autocomplete: "off", disabled: !can });
    const pname = h("input", { id: "participant-name", autocomplete: "off", disabled: !can });
    const add = h("button", { id: "participant-add", type: "submit", disabled: !can }, "Add");
    const addForm = h("form", { id: "participant-form", novalidate: true },
      h("div", { class: "form-row" },
        field("participant-email", "Email", email),
        field("participant-name", "Display name", pname),
        add));
    addForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      act(() => invoke("participants_add", { code: p.code, email: email.value, displayName: pname.value || null }), `Added ${email.value}.`);
    });
    const file = h("input", { id: "participants-file", type: "file", accept: ".csv,text/csv", disabled: !can });
    const importBtn = h("button", { id: "participants-import", type: "button", class: "secondary", disabled: !can }, "Import CSV");
    importBtn.addEventListener("click", () => {
      const f = file.files && file.files[0];
      if (!f) { file.focus(); return; }
      act(async () => {
        const bytes = Array.from(new Uint8Array(await f.arrayBuffer()));
        const r = await invoke("participants_import", { code: p.code, fileName: f.name, bytes });
        setTimeout(() => { const s = document.getElementById("panel-status"); if (s) s.textContent = `Imported ${r.file}: ${r.rows} rows, ${r.added} added, ${r.already_present} already present.`; }, 0);
      });
    });
    return h("section", { class: "panel-part", "aria-labelledby": "participants-title" },
      h("h3", { id: "participants-title" }, "Participants"),
      people.el,
      addForm,
      h("div", { class: "form-row import-row" },
        field("participants-file", "CSV file", file, "Columns: email,display_name. All rows or none are added."),
        importBtn),
      can ? null : h("p", { class: "reason" }, p.archived ? "The program is archived." : `You cannot change participants: ${p.allowed.participants.reason}`));
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
  search.addEventListener("input", () => refresh({ reset: true }));
  archivedToggle.addEventListener("change", () => refresh({ reset: true }));

  const addCard = h("section", { class: "card", "aria-labelledby": "add-title" }, h("h2", { id: "add-title" }, "Add a program"), form);
  root.append(
    h("h1", {}, "Programs"),
    h("p", { class: "lead" }, "Each program (track) decides which meeting modes its participants may choose."),
    addCard,
    h("section", { class: "card" },
      h("div", { class: "toolbar" }, h("h2", {}, "All programs"),
        h("div", { class: "toolbar-controls" },
          h("label", { class: "inline" }, archivedToggle, " Show archived"),
          search)),
      list.el),
    panel,
  );
  // Arriving from "Explore with the sandbox tenant": say what was filled in.
  const explored = new URLSearchParams(location.hash.split("?")[1] || "").get("explored");
  if (explored) {
    const [n, people] = explored.split(",");
    list.el.before(h("p", { id: "explored-note", class: "alert ok", role: "status" },
      `Connected to the sandbox tenant and added ${n} demo programs with ${people} participants. Open a program's Settings to see its meeting modes and people, or check one of them on the Members page.`));
    // Said once: a reload shows the plain page.
    history.replaceState(null, "", "#/programs");
  }
  // The header and the list are read side by side. Creating programs is a global admin's
  // decision: others do not see the form.
  sessionKnown = refreshSession().then((session) => {
    addCard.hidden = Boolean(session && !session.global_admin);
  }, () => {});
  liveReload(root, ["programs", "program_meeting_modes", "participants"], () => refresh());
  await refresh();
}
