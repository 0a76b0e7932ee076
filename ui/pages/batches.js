// Batches page: pick a CSV, validate it (every row with its problems, filter to problems), run it
// with a progress bar fed by a channel and a Cancel button, the history with Resume, and the
// export of a batch's results (CSV or .ics, a Blob download).
import { invoke, download, channel } from "../ipc.js";
import { h, errorText, field } from "../dom.js";
import { pagedList } from "../list.js";
import { liveReload } from "../live.js";

const STATE_BADGE = { completed: "ok", running: "warn", planned: "muted", paused: "warn", interrupted: "warn", cancelled: "muted" };

export async function render(root) {
  let picked = null;
  let plan = null;
  let runningId = null;

  const file = h("input", { id: "batch-file", type: "file", accept: ".csv,text/csv" });
  const tz = h("input", { id: "batch-tz", autocomplete: "off", placeholder: "default from settings" });
  const validate = h("button", { id: "batch-validate", type: "button" }, "Validate");
  const onlyProblems = h("input", { id: "batch-only-problems", type: "checkbox" });
  const skip = h("input", { id: "batch-skip-rejected", type: "checkbox" });
  const run = h("button", { id: "batch-run", type: "button", disabled: true }, "Create meetings");
  const error = h("div", { id: "batch-error", class: "alert error", role: "alert" });
  const summary = h("div", { id: "batch-summary", role: "status" });
  const rowsBox = h("div", { id: "batch-rows" });
  const progressBox = h("section", { id: "batch-progress", class: "card", hidden: true, "aria-labelledby": "batch-progress-title" });

  async function readPicked() {
    const f = file.files && file.files[0];
    if (!f) throw { message: "Choose a CSV file first." };
    return { file_name: f.name, bytes: Array.from(new Uint8Array(await f.arrayBuffer())), time_zone: tz.value || null };
  }

  function showPlan() {
    if (!plan) return;
    const s = plan.summary;
    summary.replaceChildren(h("p", { class: `alert ${s.rejected || plan.file_problems.length ? "warn" : "ok"}` },
      `${s.rows} rows: ${s.ready} ready, ${s.rejected} with problems.`,
      plan.file_problems.length ? ` The file itself: ${plan.file_problems.map((p) => p.message).join("; ")}` : ""));
    const rows = plan.rows.filter((r) => !onlyProblems.checked || r.status === "rejected");
    rowsBox.replaceChildren(rows.length ? h("table", { id: "batch-rows-table", class: "dense" },
      h("thead", {}, h("tr", {}, h("th", {}, "Line"), h("th", {}, "Program"), h("th", {}, "Subject"), h("th", {}, "Status"), h("th", {}, "Problems"))),
      h("tbody", {}, rows.map((r) => h("tr", { "data-line": String(r.line), "data-status": r.status },
        h("td", {}, String(r.line)), h("td", {}, r.program), h("td", {}, r.subject),
        h("td", {}, h("span", { class: `badge ${r.status === "ready" ? "ok" : "danger"}` }, r.status === "ready" ? "Ready" : "Problem")),
        h("td", {}, r.problems.length ? h("ul", { class: "diff" }, r.problems.map((p) => h("li", {}, `${p.field} (col ${p.column}): ${p.message}`))) : "")))))
      : h("p", { class: "empty" }, onlyProblems.checked
        ? "No row has a problem — untick “Show only rows with problems” to see every row."
        : "The file has no data rows — add one row per meeting under the header line, then Validate again."));
    run.disabled = !(s.ready > 0 && (s.rejected === 0 || skip.checked) && plan.file_problems.length === 0);
  }

  function progressUi(title) {
    const bar = h("progress", { id: "batch-bar", max: "1", value: "0", "aria-label": "Meetings created" });
    const text = h("span", { id: "batch-progress-text" }, "Starting…");
    const cancel = h("button", { id: "batch-cancel", type: "button", class: "danger" }, "Cancel batch");
    cancel.addEventListener("click", async () => {
      if (runningId === null) return;
      cancel.disabled = true;
      try { await invoke("batches_cancel", { id: runningId }); text.textContent = "Cancelling: no new meetings will be created…"; }
      catch (e) { error.textContent = errorText(e); cancel.disabled = false; }
    });
    progressBox.hidden = false;
    progressBox.replaceChildren(h("h2", { id: "batch-progress-title" }, title), h("div", { class: "progress" }, bar, text, cancel));
    let total = 0;
    const onEvent = (e) => {
      if (e.event === "started") { runningId = e.batch; total = e.total; bar.max = String(Math.max(total, 1)); bar.value = String(e.already_done); text.textContent = `Batch ${e.batch}: ${e.already_done}/${total} done`; }
      else if (e.event === "progress") { bar.value = String(e.done + e.failed); text.textContent = `${e.done}/${total} created, ${e.failed} failed${e.eta_secs != null ? `, about ${Math.ceil(e.eta_secs)} s left` : ""}`; }
      else if (e.event === "paused") text.textContent = `Paused: ${e.reason}`;
      else if (e.event === "finished") { bar.value = String(e.done + e.failed + e.cancelled); text.textContent = `Finished (${e.state}): ${e.done} created, ${e.failed} failed, ${e.cancelled} cancelled.`; cancel.disabled = true; }
    };
    return { ch: channel(onEvent), done: () => { runningId = null; cancel.disabled = true; } };
  }

  const history = pagedList({
    id: "batch-history",
    noun: "batches",
    fetchPage: (cursor, limit) => invoke("batches_page", { cursor, limit }),
    table: () => h("table", { id: "batch-history-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "ID"), h("th", {}, "File"), h("th", {}, "State"), h("th", {}, "Done"), h("th", {}, "Failed"), h("th", {}, "Created"), h("th", {}, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {})),
    row: batchRow,
    empty: () => h("p", { class: "empty", id: "batches-empty" }, "No batches yet — choose a CSV file above (one meeting per row: program, subject, start, duration_minutes, time_zone, participants), press Validate, then Create meetings."),
  });

  function batchRow(b) {
    return h("tr", { "data-id": String(b.id), "data-state": b.state },
      h("td", {}, String(b.id)), h("td", {}, b.source_name),
      h("td", {}, h("span", { class: `badge ${STATE_BADGE[b.state] || "muted"}` }, b.state)),
      h("td", {}, `${b.counts.done}/${b.counts.total}`), h("td", {}, String(b.counts.failed)), h("td", { class: "nowrap" }, b.created_at),
      h("td", { class: "row-actions" },
        b.resumable ? h("button", { type: "button", class: "secondary small batch-resume", "aria-label": `Resume batch ${b.id}`, onclick: () => resume(b.id) }, "Resume") : null,
        h("button", { type: "button", class: "secondary small batch-export-csv", "aria-label": `Export batch ${b.id} as CSV`, onclick: () => exportBatch(b.id, "csv") }, "CSV"),
        h("button", { type: "button", class: "secondary small batch-export-ics", "aria-label": `Export batch ${b.id} as .ics`, onclick: () => exportBatch(b.id, "ics") }, ".ics")));
  }

  const refreshHistory = () => history.refresh();

  async function exportBatch(id, format) {
    error.textContent = "";
    try {
      const text = await invoke("batches_export", { id, format });
      await download(`batch-${id}.${format}`, format === "csv" ? "text/csv" : "text/calendar", text);
    } catch (e) { error.textContent = errorText(e); }
  }

  async function resume(id) {
    error.textContent = "";
    const p = progressUi(`Resuming batch ${id}`);
    runningId = id;
    try { await invoke("batches_resume", { id, onProgress: p.ch }); }
    catch (e) { error.textContent = errorText(e); }
    finally { p.done(); await refreshHistory(); }
  }

  validate.addEventListener("click", async () => {
    error.textContent = "";
    validate.disabled = true;
    summary.replaceChildren(h("div", { class: "progress" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Checking every row…"));
    try {
      picked = await readPicked();
      plan = await invoke("batches_validate", { input: picked });
      showPlan();
    } catch (e) {
      summary.replaceChildren();
      error.textContent = errorText(e);
    } finally { validate.disabled = false; }
  });
  run.addEventListener("click", async () => {
    error.textContent = "";
    run.disabled = true;
    const p = progressUi("Creating meetings");
    try {
      await invoke("batches_run", { input: picked || await readPicked(), skipRejected: skip.checked, onProgress: p.ch });
    } catch (e) { error.textContent = errorText(e); }
    finally { p.done(); await refreshHistory(); }
  });
  file.addEventListener("change", () => { plan = null; picked = null; run.disabled = true; summary.replaceChildren(); rowsBox.replaceChildren(); });
  onlyProblems.addEventListener("change", showPlan);
  skip.addEventListener("change", showPlan);

  root.append(
    h("h1", {}, "Batches"),
    h("p", { class: "lead" }, "Create many Teams meetings at once from a CSV file (columns program, subject, start, end or duration_minutes, time_zone, participants separated by ;)."),
    h("section", { class: "card", "aria-labelledby": "batch-file-title" },
      h("h2", { id: "batch-file-title" }, "Validate and run a file"),
      h("div", { class: "form-row import-row" },
        field("batch-file", "CSV file", file),
        field("batch-tz", "Time zone for rows without one", tz),
        validate),
      summary,
      h("div", { class: "toolbar-controls" },
        h("label", { class: "inline", for: "batch-only-problems" }, onlyProblems, " Show only rows with problems"),
        h("label", { class: "inline", for: "batch-skip-rejected" }, skip, " Skip rows with problems"),
        run),
      rowsBox, error),
    progressBox,
    h("section", { class: "card", "aria-labelledby": "batch-history-title" }, h("h2", { id: "batch-history-title" }, "History"), history.el),
  );
  liveReload(root, ["batches", "batch_items"], refreshHistory);
  await refreshHistory();
}
