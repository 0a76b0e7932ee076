import { placeholder } from "./placeholder.js";

export function render(root) {
  placeholder(root, "Integration", "Connect your organization's Microsoft 365 tenant so meetings can be held as Teams video calls.", [
    "Sign in the dedicated host account (Teams Scheduler) in your browser",
    "Grant organization-wide approval as a global admin",
    "See the connection's status, granted permissions and expiry; remove it",
  ]);
}
