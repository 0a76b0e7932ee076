import { placeholder } from "./placeholder.js";

export function render(root) {
  placeholder(root, "Members", "Check whether a person is a member of your tenant and can be offered a Teams meeting.", [
    "Look up a person by address: member, guest or not found",
    "Diagnose why someone cannot get a Teams meeting in a program",
  ]);
}
