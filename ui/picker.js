// A program picker that stays quick on a store of any size: a <select> holding the first
// programs in name order and, when the store has more than fit, a "Find a program" box that asks
// the store for the programs whose name or code contains what was typed. (A <select> of all
// 10,000 programs took seconds to read and draw, and a picker of only the first page silently
// left programs out.)
import { h } from "./dom.js";
import { invoke } from "./ipc.js";

/** Programs a picker holds at once. */
export const PICK = 200;

/** Pure: the label of a program in a picker. */
export function programLabel(p) {
  return `${p.name} (${p.code})`;
}

/** The programs whose name or code contains `search` (all when null), as names: `programs_page`
 *  with `namesOnly` answers `{ items: [{ code, name, archived, teams }], next_cursor,
 *  teams_unavailable }`, a tenth of the full rows' JSON (the Meetings page's two pickers read
 *  ~145 KB of full rows before). */
function names(search) {
  return invoke("programs_page", { search, cursor: null, limit: PICK, namesOnly: true });
}

/** The first programs a picker holds; two pickers on one page can share one read
 *  (`load(first)`). */
export function firstPrograms() {
  return names(null);
}

/**
 * - `id`: the select's id (the find box is `${id}-find`);
 * - `none`: the text of a first option with the value "" (e.g. "All programs"), or null;
 * - `onChange()`: called when the chosen program changes (by the person or by a search).
 * Returns `{ select, find, load(first), items(), complete(), current() }`: `load()` reads the
 * first programs, or takes them from `first` (a `firstPrograms()` promise) when no search is
 * typed, and resolves to how many it holds; `items()` are the programs held (`{ code, name,
 * archived, teams }`: `teams` is whether it chose Teams video calls), `complete()` says whether
 * they are all there are (no search typed, no more in the store), `current()` is the chosen
 * program (or null), and `teamsUnavailable()` why no program can use Teams video calls now (null
 * when they can).
 */
export function programPicker({ id, none = null, onChange = () => {} }) {
  const select = h("select", { id });
  const find = h("input", {
    type: "search", id: `${id}-find`, class: "picker-find", hidden: true, autocomplete: "off",
    placeholder: "Find a program by name or code", "aria-label": "Find a program by name or code", "aria-controls": id,
  });
  let items = [];
  let more = false;
  let searched = "";
  let asked = 0;
  let unavailable = null;

  function fill() {
    const options = items.map((p) => h("option", { value: p.code }, programLabel(p)));
    if (none !== null) options.unshift(h("option", { value: "" }, none));
    // With no "none" option the select still needs one, so an empty one is not disabled.
    if (!items.length && searched) options.push(h("option", { value: "", disabled: none !== null }, `No program matches “${searched}”`));
    else if (!items.length && none === null) options.push(h("option", { value: "" }, "No programs yet"));
    if (more) options.push(h("option", { value: "", disabled: true, class: "picker-more" }, `… more programs: type in “Find a program” to narrow`));
    const before = select.value;
    select.replaceChildren(...options);
    if (before && items.some((p) => p.code === before)) select.value = before;
  }

  async function read(search, first = null) {
    const mine = ++asked;
    const page = await (first || names(search || null));
    if (mine !== asked) return false; // a later search has already been asked
    items = page.items;
    unavailable = page.teams_unavailable ?? null;
    more = Boolean(page.next_cursor);
    searched = search;
    return true;
  }

  async function load(first = null) {
    const search = find.value.trim();
    await read(search, search ? null : first);
    // The find box shows once there are more programs than the picker holds, and stays.
    if (more) find.hidden = false;
    fill();
    return items.length;
  }

  let timer = null;
  find.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        if (await read(find.value.trim())) { fill(); onChange(); }
      } catch {
        // A failed search keeps the choices that were there; the next keystroke asks again.
      }
    }, 150);
  });
  select.addEventListener("change", () => onChange());

  return {
    select,
    find,
    load,
    items: () => items,
    complete: () => !more && !searched,
    current: () => items.find((p) => p.code === select.value) || null,
    teamsUnavailable: () => unavailable,
  };
}
