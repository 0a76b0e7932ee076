import { placeholder } from "./placeholder.js";

export function render(root) {
  placeholder(root, "Audit", "Every change anyone makes is recorded here.", [
    "Filter by operator, program, action and date",
    "Export as CSV or JSON",
  ]);
}
