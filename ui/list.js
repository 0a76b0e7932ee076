// Lists read a page at a time. The core pages every list with keyset cursors (100 rows a page);
// a paged list shows the first page and a "Show more" button that appends the next one, and a
// refresh after a change reloads as many rows as were shown, so nothing the person scrolled to
// disappears. Each load records how long it took to put the rows on screen (`data-render-ms` on
// the list element, from the route change for the first load of a page), which the window's
// list benchmark reads over WebDriver.
import { h, errorText } from "./dom.js";

/** Rows a page asks for. */
export const PAGE = 100;

/**
 * A list with "Show more".
 * - `id`: the list element's id (the button is `${id}-more`);
 * - `fetchPage(cursor, limit)`: resolves to `{ items, next_cursor }`;
 * - `table()`: the empty table the rows go into (its head and an empty `tbody`);
 * - `row(item)`: one row (`tr`);
 * - `empty()`: what to show when there is no row;
 * - `noun`: what the rows are ("programs"), for the count line;
 * - `sinceRoute`: time the first load from the route change (a page's main list; default true).
 * Returns `{ el, refresh(), items() }`; `refresh({ reset: true })` starts again from the first page.
 * `refresh()` resolves to true once its rows are shown (false when the read failed or a later
 * refresh took its place).
 */
export function pagedList({ id, fetchPage, table, row, empty, noun, sinceRoute = true }) {
  const body = h("div", {});
  const count = h("span", { class: "hint", id: `${id}-count`, "aria-live": "polite" });
  const more = h("button", { type: "button", class: "secondary", id: `${id}-more` }, `Show ${PAGE} more`);
  const foot = h("div", { class: "list-foot", hidden: true }, count, more);
  const el = h("div", { id, class: "paged-list", "data-loads": "0" }, body, foot);
  let items = [];
  let cursor = null;
  let loads = 0;
  let generation = 0;
  let fromRoute = sinceRoute;

  function startTime() {
    // The first load of a list counts from the route change that opened its page.
    const route = fromRoute ? performance.getEntriesByName("route").pop() : null;
    fromRoute = false;
    return route ? route.startTime : performance.now();
  }

  function filled(rows) {
    const t = table();
    t.classList.add("rows");
    t.setAttribute("role", "table");
    for (const g of t.querySelectorAll(":scope > thead, :scope > tbody")) g.setAttribute("role", "rowgroup");
    for (const tr of t.querySelectorAll(":scope > thead > tr")) roles(tr);
    t.querySelector("tbody").append(...rows.map(aRow));
    return t;
  }

  // The rows are grids (ui/styles.css, `table.rows`), which takes away their table semantics; the
  // roles give them back.
  function roles(tr) {
    tr.setAttribute("role", "row");
    for (const cell of tr.children) cell.setAttribute("role", cell.tagName === "TH" ? "columnheader" : "cell");
    return tr;
  }

  const aRow = (item) => roles(row(item));

  function showFoot() {
    foot.hidden = !cursor && items.length <= PAGE;
    count.textContent = cursor ? `Showing the first ${items.length} ${noun}.` : `All ${items.length} ${noun} shown.`;
    more.hidden = !cursor;
  }

  // Records where a load's time went, in ms: `setupMs` (from the route change to asking, e.g.
  // the page's other reads), `fetchMs` (IPC and query), `domMs` (building and inserting the
  // rows), `renderMs` (all of it, to the second animation frame after the insert).
  function painted(t) {
    const mine = ++loads;
    const built = performance.now();
    // Two frames: the second callback runs once the frame holding the new rows was produced.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const d = el.dataset;
      d.renderMs = (performance.now() - t.started).toFixed(1);
      d.setupMs = (t.asked - t.started).toFixed(1);
      d.fetchMs = (t.fetched - t.asked).toFixed(1);
      d.domMs = (built - t.fetched).toFixed(1);
      d.rows = String(items.length);
      d.loads = String(mine);
    }));
  }

  async function refresh({ reset = false } = {}) {
    const mine = ++generation;
    const t = { started: startTime(), asked: performance.now() };
    // Reload what was shown; when everything was shown, leave room for rows added since.
    const limit = reset ? PAGE : Math.max(PAGE, cursor ? items.length : items.length + PAGE);
    let page;
    try {
      page = await fetchPage(null, limit);
    } catch (e) {
      if (mine !== generation) return false;
      items = [];
      cursor = null;
      body.replaceChildren(h("div", { class: "alert error", role: "alert" }, errorText(e)));
      foot.hidden = true;
      return false;
    }
    if (mine !== generation) return false;
    t.fetched = performance.now();
    items = page.items;
    cursor = page.next_cursor || null;
    body.replaceChildren(items.length ? filled(items) : empty());
    showFoot();
    painted(t);
    return true;
  }

  more.addEventListener("click", async () => {
    if (!cursor) return;
    const mine = generation;
    const now = performance.now();
    const t = { started: now, asked: now };
    more.disabled = true;
    try {
      const page = await fetchPage(cursor, PAGE);
      if (mine !== generation) return;
      t.fetched = performance.now();
      items = items.concat(page.items);
      cursor = page.next_cursor || null;
      // There is a next page only after a page with rows, so the table is there.
      body.querySelector("tbody").append(...page.items.map(aRow));
      showFoot();
      painted(t);
    } catch (e) {
      count.textContent = `Could not load more: ${errorText(e)}`;
    } finally {
      more.disabled = false;
    }
  });

  return { el, refresh, items: () => items };
}
