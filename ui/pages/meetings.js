// Meetings page (coordinators): create a Teams meeting in a program (the mode selector offers
// Teams only when the program allows it and it is available, and otherwise says why), list
// meetings with a program filter, and a detail panel with the join link (copy), the .ics export,
// rescheduling and cancellation after a confirmation.
import { invoke, download } from "../ipc.js";
import { h, errorText, field, confirmInline, act } from "../dom.js";
import { pagedList } from "../list.js";
import { liveReload } from "../live.js";
import { programPicker, firstPrograms } from "../picker.js";

const STATE_BADGE = { created: "ok", pending: "warn", cancelling: "warn", cancelled: "muted", failed: "danger" };

/** Pure: can this program (a picker's `{ archived, teams }`) get a Teams meeting, and if not,
 *  why not; `unavailable` is why no program can use Teams now (null when they can). */
export function teamsChoice(p, unavailable) {
  if (!p) return { allowed: false, reason: "Choose a program first." };
  if (p.archived) return { allowed: false, reason: "The program is archived." };
  if (!p.teams) return { allowed: false, reason: "This program does not offer Teams video calls; a track admin can turn them on under Programs → Settings → Meeting modes." };
  if (unavailable !== null) return { allowed: false, reason: `Teams video calls are unavailable: ${unavailable || "the integration is not connected"}.` };
  return { allowed: true, reason: null };
}

export async function render(root) {
  let openId = null;

  const picker = programPicker({ id: "meeting-program", onChange: () => updateMode() });
  const program = picker.select;
  program.required = true;
  const mode = h("select", { id: "meeting-mode", "aria-describedby": "meeting-mode-reason" });
  const modeReason = h("p", { id: "meeting-mode-reason", class: "reason" });
  const subject = h("input", { id: "meeting-subject", required: true, maxlength: "255", autocomplete: "off" });
  const start = h("input", { id: "meeting-start", required: true, autocomplete: "off", placeholder: "YYYY-MM-DD HH:MM" });
  const duration = h("input", { id: "meeting-duration", value: "1h", autocomplete: "off", placeholder: "45m, 1h, 1h30m" });
  const end = h("input", { id: "meeting-end", autocomplete: "off", placeholder: "YYYY-MM-DD HH:MM" });
  const tz = h("input", { id: "meeting-tz", autocomplete: "off", placeholder: "Europe/Berlin" });
  const participants = h("textarea", { id: "meeting-participants", rows: "4", placeholder: "one address per line" });
  const create = h("button", { id: "meeting-create", type: "submit" }, "Create Teams meeting");
  const error = h("div", { id: "meeting-error", class: "alert error", role: "alert" });
  const status = h("div", { id: "meeting-status", class: "alert ok", role: "status" });

  const form = h("form", { id: "meeting-form", novalidate: true },
    h("div", { class: "form-row" },
      field("meeting-program", "Program", program, picker.find),
      field("meeting-mode", "Meeting mode", mode),
      field("meeting-subject", "Subject", subject)),
    modeReason,
    h("div", { class: "form-row" },
      field("meeting-start", "Start (local)", start),
      field("meeting-duration", "Duration", duration, "or give an end"),
      field("meeting-end", "End (local, optional)", end),
      field("meeting-tz", "Time zone", tz, "IANA name")),
    h("div", { class: "form-row" },
      field("meeting-participants", "Participants", participants, "One address per line; each must be a participant of the program"),
      create),
    error, status);

  const filterPicker = programPicker({ id: "meetings-filter", none: "All programs", onChange: () => refresh({ reset: true }) });
  const filter = filterPicker.select;
  filter.setAttribute("aria-label", "Filter by program");
  const detail = h("section", { id: "meeting-detail", class: "card", hidden: true, tabindex: "-1", "aria-labelledby": "meeting-detail-title" });

  function updateMode() {
    const c = teamsChoice(picker.current(), picker.teamsUnavailable());
    mode.replaceChildren(h("option", { value: "teams_video", disabled: !c.allowed }, c.allowed ? "Teams video call" : "Teams video call (not available)"));
    mode.disabled = !c.allowed;
    modeReason.textContent = c.reason || "";
    create.disabled = !c.allowed;
  }

  async function loadPrograms() {
    try {
      // Both pickers start from the same first programs: one read.
      const first = firstPrograms();
      await Promise.all([picker.load(first), filterPicker.load(first)]);
    } catch (e) {
      error.textContent = errorText(e);
    }
    updateMode();
  }

  let programsKnown = Promise.resolve();
  const list = pagedList({
    id: "meetings-list",
    noun: "meetings",
    // An empty list waits for the programs too (its advice depends on them); rows do not.
    fetchPage: async (cursor, limit) => {
      const page = await invoke("meetings_page", { program: filter.value || null, stateFilter: null, cursor, limit });
      if (!page.items.length) await programsKnown;
      return page;
    },
    table,
    row: meetingRow,
    empty: emptyList,
  });

  async function refresh(opts) {
    await list.refresh(opts);
    if (openId !== null) {
      const m = list.items().find((r) => r.id === openId);
      if (m) showDetail(m); else { detail.hidden = true; openId = null; }
    }
  }

  function emptyList() {
    const say = (...parts) => h("p", { class: "empty", id: "meetings-empty" }, ...parts);
    // What the pickers hold is every program only when the store has no more than they show.
    const programs = picker.items();
    const all = picker.complete();
    if (all && !programs.length) {
      return say("No meetings yet — meetings belong to a program: create one on ", h("a", { href: "#/programs" }, "Programs"),
        " and turn on Teams video calls, or ", h("a", { href: "#/welcome" }, "explore with the sandbox tenant"), ".");
    }
    if (filter.value) return say("No meetings in this program yet — create one with the form above, or choose All programs.");
    if (all && !programs.some((p) => teamsChoice(p, picker.teamsUnavailable()).allowed)) {
      return say("No meetings yet — no program offers Teams video calls right now: see the reason above the form, and turn them on under ",
        h("a", { href: "#/programs" }, "Programs"), " → Settings → Meeting modes.");
    }
    return say("No meetings yet — create one with the form above, or many at once from a CSV file on ", h("a", { href: "#/batches" }, "Batches"), ".");
  }

  function table() {
    return h("table", { id: "meetings-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Start"), h("th", {}, "Subject"), h("th", {}, "Program"), h("th", {}, "State"), h("th", {}, "People"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}));
  }

  function meetingRow(m) {
    return h("tr", { "data-id": String(m.id), "data-state": m.state, class: m.id === openId ? "selected" : null },
      h("td", { class: "nowrap" }, m.start_local),
      h("td", {}, m.subject),
      h("td", {}, h("code", {}, m.program_code)),
      h("td", {}, h("span", { class: `badge ${STATE_BADGE[m.state] || "muted"} meeting-state` }, m.state)),
      h("td", {}, String(m.attendees.length)),
      h("td", { class: "row-actions" }, h("button", {
        type: "button", class: "secondary small meeting-open", "data-id": String(m.id), "aria-label": `Details of ${m.subject}`,
        onclick: () => { openId = m.id; showDetail(m); refresh(); detail.focus(); },
      }, "Details")));
  }

  function showDetail(m) {
    const detailError = h("div", { id: "meeting-detail-error", class: "alert error", role: "alert" });
    const detailStatus = h("div", { id: "meeting-detail-status", class: "alert ok", role: "status" });
    const join = h("input", { id: "meeting-join-url", readonly: true, value: m.join_web_url || "", "aria-label": "Join link" });
    const copy = h("button", { id: "meeting-copy-join", type: "button", class: "secondary", disabled: !m.join_web_url }, "Copy join link");
    copy.addEventListener("click", async () => {
      join.select();
      try { await navigator.clipboard.writeText(join.value); } catch { document.execCommand("copy"); }
      copy.textContent = "Copied";
      setTimeout(() => { copy.textContent = "Copy join link"; }, 1500);
    });
    // The detail's actions say their failures in the detail; a change redraws it from the list.
    const detailAct = act({ error: detailError, status: detailStatus, keepStatus: true });
    const ics = h("button", { id: "meeting-ics", type: "button", class: "secondary" }, "Export .ics");
    ics.addEventListener("click", () => detailAct(async () => {
      const text = await invoke("meetings_ics", { key: String(m.id) });
      const path = await download(`meeting-${m.external_id}.ics`, "text/calendar", text);
      detailStatus.textContent = `Saved the .ics file to ${path}.`;
    }));
    const cancel = h("button", { id: "meeting-cancel", type: "button", class: "danger", disabled: m.state === "cancelled" || m.state === "failed" }, "Cancel meeting");
    const cancelBox = confirmInline(h("div", { class: "danger-zone" }), cancel, {
      question: `Cancel "${m.subject}"? The lobby is locked and the meeting is deleted in Teams; its join link stops working. This cannot be undone.`,
      yes: "Cancel the meeting", no: "Keep it",
      ids: { confirm: "meeting-cancel-confirm", question: "meeting-cancel-q", yes: "meeting-cancel-yes", no: "meeting-cancel-no" },
      onYes: async (yes, no) => {
        yes.disabled = true; no.disabled = true;
        cancelBox.append(h("div", { class: "progress" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Locking the lobby and deleting the meeting in Teams…"));
        try {
          const r = await invoke("meetings_cancel", { key: String(m.id) });
          await refresh();
          showDetail(r.meeting);
          const s = document.getElementById("meeting-detail-status");
          if (s) s.textContent = ["Cancelled: the meeting is deleted in Teams and its link no longer works.", ...r.notes].join(" ");
        } catch (e) {
          cancelBox.replaceChildren(cancel, h("div", { class: "alert error", role: "alert" }, errorText(e)));
        }
      },
    });

    // Reschedule: a new local start with a duration or end; the join link stays the same.
    const live = m.state === "created";
    const rsStart = h("input", { id: "meeting-rs-start", type: "text", placeholder: "YYYY-MM-DD HH:MM", value: m.start_local.slice(0, 16), autocomplete: "off" });
    const rsDuration = h("input", { id: "meeting-rs-duration", type: "text", placeholder: "45m, 1h, 1h30m", autocomplete: "off" });
    const rsEnd = h("input", { id: "meeting-rs-end", type: "text", placeholder: "or an end: YYYY-MM-DD HH:MM", autocomplete: "off" });
    const rsButton = h("button", { id: "meeting-reschedule", type: "submit", disabled: !live }, "Reschedule");
    const rsForm = h("form", { id: "meeting-reschedule-form", novalidate: true },
      h("h3", {}, "Reschedule"),
      h("div", { class: "form-row" },
        field("meeting-rs-start", `New start (${m.time_zone})`, rsStart),
        field("meeting-rs-duration", "Duration", rsDuration),
        field("meeting-rs-end", "End", rsEnd),
        rsButton));
    rsForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      rsButton.disabled = true;
      await detailAct(async () => {
        const r = await invoke("meetings_reschedule", { input: {
          key: String(m.id), start: rsStart.value, end: rsEnd.value || null,
          duration: rsDuration.value || null, time_zone: null, subject: null } });
        await refresh();
        showDetail(r);
        const st = document.getElementById("meeting-detail-status");
        if (st) st.textContent = `Rescheduled to ${r.start_local}; the join link is unchanged.`;
      });
      // After a success this detail is redrawn and the button gone; after a failure, try again.
      rsButton.disabled = false;
    });
    const fact = (id, label, value) => [h("dt", {}, label), h("dd", { id }, value ?? "—")];
    // What the participants were sent (core meetings::invitations_summary says the same).
    const invitationsText = (m) => {
      if (m.invitations !== "calendar") return "none sent (share the join link or export the .ics)";
      const sent = [["sent", m.invitations_sent_at], ["updated", m.invitations_updated_at], ["cancelled", m.invitations_cancelled_at]]
        .filter(([, at]) => at).map(([what, at]) => `${what} ${at}`);
      return sent.length ? `from the host's calendar: ${sent.join(" · ")}` : "from the host's calendar, not sent yet";
    };
    detail.replaceChildren(
      h("div", { class: "toolbar" },
        h("h2", { id: "meeting-detail-title" }, m.subject, " ", h("span", { id: "meeting-detail-state", class: `badge ${STATE_BADGE[m.state] || "muted"}` }, m.state)),
        h("button", { id: "meeting-detail-close", type: "button", class: "secondary small", onclick: () => { openId = null; detail.hidden = true; refresh(); } }, "Close")),
      h("dl", { class: "facts" },
        fact("meeting-detail-program", "Program", m.program_code),
        fact("meeting-detail-start", "Start", `${m.start_local} (${m.start_utc} UTC)`),
        fact("meeting-detail-end", "End", m.end_local),
        fact("meeting-detail-organizer", "Organizer", m.organizer_upn),
        fact("meeting-detail-invitations", "Invitations", invitationsText(m)),
        fact("meeting-detail-join-id", "Meeting ID", m.join_meeting_id ? `${m.join_meeting_id}${m.passcode ? `  Passcode: ${m.passcode}` : ""}` : null),
        fact("meeting-detail-attendees", "Participants", m.attendees.map((a) => a.display_name ? `${a.upn || a.address} (${a.display_name})` : a.upn || a.address).join(", ")),
        fact("meeting-detail-external-id", "External id", m.external_id),
        m.last_error ? fact("meeting-detail-last-error", "Last error", m.last_error) : null),
      field("meeting-join-url", "Join link", h("div", { class: "copy-row" }, join, copy)),
      h("div", { class: "actions" }, ics),
      ...(live ? [rsForm] : []),
      cancelBox, detailError, detailStatus);
    detail.hidden = false;
  }

  const createAct = act({ error, status });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    create.disabled = true;
    await createAct(async () => {
      const r = await invoke("meetings_create", { input: {
        program: program.value, subject: subject.value, start: start.value,
        end: end.value || null, duration: end.value ? null : duration.value || null,
        time_zone: tz.value || null,
        participants: participants.value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean),
      } });
      status.textContent = r.existing ? "Already created earlier; nothing new was made." : `Created "${r.meeting.subject}" with a Teams join link.`;
      filter.value = "";
      openId = r.meeting.id;
      await refresh();
      showDetail(r.meeting);
    });
    updateMode();
  });

  root.append(
    h("h1", {}, "Meetings"),
    h("p", { class: "lead" }, "Create Teams video calls for a program's participants, copy join links, export calendar files and cancel."),
    h("section", { class: "card", "aria-labelledby": "meeting-create-title" }, h("h2", { id: "meeting-create-title" }, "New meeting"), form),
    h("section", { class: "card" },
      h("div", { class: "toolbar" }, h("h2", {}, "Meetings"),
        h("div", { class: "toolbar-controls" }, h("label", { class: "inline", for: "meetings-filter" }, "Program "), filter, filterPicker.find)),
      list.el),
    detail,
  );
  // The list, the programs and the time zone are read side by side, the list asked first: the
  // replies come back in about the order they were asked, and the rows are what is waited for.
  liveReload(root, ["meetings"], () => refresh());
  const listed = refresh();
  programsKnown = loadPrograms();
  const zone = invoke("meetings_default_tz").then((z) => { tz.value = z; }, () => { tz.value = "UTC"; });
  await listed;
  await zone;
}
