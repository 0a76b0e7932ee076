// A page that is not built yet says what it will hold.
import { h } from "../ipc.js";

export function placeholder(root, title, lead, items) {
  root.append(
    h("h1", {}, title),
    h("p", { class: "lead" }, lead),
    h("section", { class: "card placeholder" }, h("h2", {}, "Coming next"), h("ul", {}, items.map((i) => h("li", {}, i)))),
  );
}
