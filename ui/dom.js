// Building the window's pieces: elements (h), a labelled field, the inline "Remove / Keep"
// confirmation, a page part's action runner, the toast, and words shared by pages. Nothing here
// talks to the Rust side (that is ipc.js), so every page and helper may import it.

/** Builds an element: h("td", { class: "x" }, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "checked" || k === "value") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A message for a failure (a command's { code, message }, or anything thrown). */
export function errorText(e) {
  return (e && e.message) || String(e);
}

/** A labelled field: the label for `id`, the control, then `more` (a picker's search, …). A
 *  string in `more` is the field's hint, `<span class="hint" id="{id}-hint">`. */
export function field(id, label, control, ...more) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    more.map((m) => (typeof m === "string" ? h("span", { class: "hint", id: `${id}-hint` }, m) : m)));
}

/** Asks before a destructive action, in place: `trigger` (inside `box`) gives way to the
 *  question with a confirm and a keep button; keep puts the trigger back and focuses it, confirm
 *  calls `onYes(yes, no)`. `ids` may name the parts: { confirm, question, yes, no }.
 *  - block (default): `<div class="confirm" role="alertdialog">` with the question as its
 *    labelling paragraph and the buttons below; the confirm button has focus.
 *  - `compact`: the question as a hint and small buttons, for a table row; keep has focus. */
export function confirmInline(box, trigger, { question, yes = "Remove", no = "Keep", yesLabel, ids = {}, compact = false, onYes }) {
  trigger.addEventListener("click", () => {
    const size = compact ? " small" : "";
    const yesBtn = h("button", { id: ids.yes, type: "button", class: `danger${size}`, "aria-label": yesLabel }, yes);
    const noBtn = h("button", { id: ids.no, type: "button", class: `secondary${size}` }, no);
    noBtn.addEventListener("click", () => { box.replaceChildren(trigger); trigger.focus(); });
    yesBtn.addEventListener("click", () => onYes(yesBtn, noBtn));
    if (compact) {
      box.replaceChildren(h("span", { class: "hint" }, question), yesBtn, noBtn);
      noBtn.focus();
    } else {
      box.replaceChildren(h("div", { id: ids.confirm, class: "confirm", role: "alertdialog", "aria-labelledby": ids.question },
        h("p", { id: ids.question }, question),
        h("div", { class: "actions" }, yesBtn, noBtn)));
      yesBtn.focus();
    }
  });
  box.append(trigger);
  return box;
}

/** A page part's action runner: `run(fn, done)` clears `error` (and `status`, unless
 *  `keepStatus`), awaits `fn`, says `done` (when given) in `status`, then awaits `after()`; a
 *  failure is said in `error` instead. */
export function act({ error, status, after = () => {}, keepStatus = false }) {
  return async (fn, done) => {
    error.textContent = "";
    if (!keepStatus) status.textContent = "";
    try {
      await fn();
      if (done) status.textContent = done;
      await after();
    } catch (e) {
      error.textContent = errorText(e);
    }
  };
}

/** A short message at the bottom of the window (role=status), kept until the next one. */
export function toast(text, kind = "ok") {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  el.className = `toast ${kind}`;
  el.replaceChildren(h("span", { id: "toast-text" }, text),
    h("button", { type: "button", class: "small secondary", "aria-label": "Dismiss", onclick: () => { el.hidden = true; } }, "×"));
  el.hidden = false;
}

/** Words for roles. */
export const ROLE_LABELS = { global_admin: "Global admin", track_admin: "Track admin", coordinator: "Coordinator", support: "Support" };

/** "Track admin of eng". */
export function roleText(g) {
  return g.program ? `${ROLE_LABELS[g.role] || g.role} of ${g.program}` : ROLE_LABELS[g.role] || g.role;
}
