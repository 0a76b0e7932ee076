import { placeholder } from "./placeholder.js";

export function render(root) {
  placeholder(root, "Meetings", "Create, reschedule and cancel Teams meetings hosted by the Teams Scheduler account.", [
    "Create a meeting in a program",
    "Reschedule or cancel it; copy the join link; export an invitation (.ics)",
  ]);
}
