import { placeholder } from "./placeholder.js";

export function render(root) {
  placeholder(root, "Batches", "Create many meetings at once from a CSV file.", [
    "Validate a CSV and see every problem with its line",
    "Run, watch progress, resume or cancel, export the results",
  ]);
}
