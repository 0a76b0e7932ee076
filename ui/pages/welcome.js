// Welcome page: what the app is for, its four jobs (each linking to its page) and two ways on —
// connect a Microsoft 365 tenant, or explore with the sandbox tenant pre-filled with demo
// programs. The window opens here on a store's first run (the rule is in the core:
// tsched_core::welcome); later it is reachable from "Getting started" in the sidebar.
import { invoke, channel } from "../ipc.js";
import { h, errorText } from "../dom.js";
import { refreshSession } from "../session.js";

const JOBS = [
  ["integration", "Connect your tenant", "Global admins", "sign in the dedicated host account and approve the permissions once, for the whole organization."],
  ["programs", "Review program settings", "Track admins", "choose which meeting modes each program allows, and who takes part."],
  ["members", "Check a person's membership", "Support staff", "see whether someone is a member or a guest of the tenant, and why they can or cannot be offered a Teams meeting."],
  ["meetings", "Create meetings", "Coordinators", "create, reschedule and cancel Teams meetings, one at a time or in batches from a CSV file."],
];

const STEPS = {
  opening_browser: () => "Signing in the sandbox's host account (your browser may open briefly)…",
  open_browser_failed: (p) => `The browser could not be opened (${p.reason}). Open this address yourself: ${p.url}`,
  waiting_for_browser: () => "Waiting for the sandbox tenant to approve the sign-in…",
  exchanging_code: () => "Finishing the sign-in…",
  reading_profile: () => "Reading the host account…",
  saved: () => "Connected to the sandbox tenant.",
};

/** Moving on from the welcome page: the next start opens on the usual page. */
async function dismiss() {
  try { await invoke("welcome_dismiss"); } catch { /* the store's own pages will say what is wrong */ }
}

export async function render(root) {
  const progress = h("div", { id: "welcome-progress", class: "progress", role: "status", hidden: true });
  const error = h("div", { id: "welcome-error", class: "alert error", role: "alert" });
  const done = h("div", { id: "welcome-done", class: "alert ok", role: "status" });
  const connect = h("button", { id: "welcome-connect", type: "button" }, "Connect a Microsoft 365 tenant");
  const explore = h("button", { id: "welcome-explore", type: "button", class: "secondary" }, "Explore with the sandbox tenant");
  const connectReason = h("p", { id: "welcome-connect-reason", class: "reason" });
  const exploreReason = h("p", { id: "welcome-explore-reason", class: "reason" });
  const cancel = h("button", { id: "welcome-cancel", type: "button", class: "secondary small" }, "Cancel");
  cancel.addEventListener("click", () => invoke("integration_cancel"));

  function busy(text) {
    progress.hidden = !text;
    connect.disabled = Boolean(text);
    explore.disabled = Boolean(text);
    progress.replaceChildren(
      h("span", { class: "spinner", "aria-hidden": "true" }),
      h("span", { id: "welcome-progress-text" }, text || ""),
      cancel);
  }
  const say = (text) => {
    const t = document.getElementById("welcome-progress-text");
    if (t) t.textContent = text;
  };

  connect.addEventListener("click", async () => {
    await dismiss();
    location.hash = "#/integration?connect";
  });

  explore.addEventListener("click", async () => {
    error.textContent = "";
    done.textContent = "";
    busy("Starting the sandbox tenant…");
    cancel.hidden = true;
    try {
      const { prefilled: r } = await invoke("sandbox_explore", {
        onProgress: channel((p) => {
          if (p.kind === "sandbox_started") cancel.hidden = false;
          else if (p.kind === "prefilling") { cancel.hidden = true; say("Adding demo programs and participants…"); }
          else if (STEPS[p.kind]) say(STEPS[p.kind](p));
        }),
      });
      await refreshSession();
      if (r.skipped) {
        busy("");
        done.replaceChildren(`Connected to the sandbox tenant. No demo programs were added: ${r.skipped}. `,
          h("a", { href: "#/programs" }, "Go to Programs"));
        return;
      }
      location.hash = `#/programs?explored=${r.programs.length},${r.participants}`;
    } catch (e) {
      busy("");
      error.textContent = errorText(e);
      refreshSession();
    }
  });

  const skip = h("a", { id: "welcome-skip", href: "#/programs" }, "Skip for now");
  skip.addEventListener("click", (ev) => {
    ev.preventDefault();
    dismiss().then(() => { location.hash = "#/programs"; });
  });

  root.append(
    h("h1", {}, "Welcome to Teams Scheduler"),
    h("div", { id: "welcome-about", class: "lead" },
      h("p", {}, "Teams Scheduler connects your organization's Microsoft 365 tenant to its mentoring and engagement programs, so their meetings can be held as Microsoft Teams video calls hosted by one dedicated account."),
      h("p", {}, "Here you decide which ways of meeting each program offers, check who belongs to your tenant, and create the meetings one at a time or in batches, with every change recorded.")),
    h("section", { class: "card", "aria-labelledby": "jobs-title" },
      h("h2", { id: "jobs-title" }, "What you can do here"),
      h("ol", { id: "welcome-jobs", class: "jobs" }, JOBS.map(([page, title, who, what], i) =>
        h("li", { class: "job", "data-job": page },
          h("span", { class: "step", "aria-hidden": "true" }, String(i + 1)),
          h("div", {},
            h("a", { href: `#/${page}`, class: "job-link" }, title),
            h("p", {}, h("strong", {}, `${who}: `), what)))))),
    h("section", { id: "welcome-start", class: "card", "aria-labelledby": "start-title" },
      h("h2", { id: "start-title" }, "Two ways to start"),
      h("div", { class: "approaches" },
        h("article", { class: "approach", "aria-labelledby": "way-connect" },
          h("h3", { id: "way-connect" }, "Your organization's tenant"),
          h("p", {}, "For real use: a global admin connects it with the tenant's id or domain and the app registration's client id."),
          connectReason, connect),
        h("article", { class: "approach", "aria-labelledby": "way-explore" },
          h("h3", { id: "way-explore" }, "The sandbox tenant"),
          h("p", {}, "To look around first: a local emulator of Microsoft 365 starts in this app, with a few programs and people filled in. Nothing reaches Microsoft."),
          exploreReason, explore)),
      progress, error, done),
    h("p", { class: "welcome-skip" }, skip, h("span", { class: "reason" }, " — you can come back here from Getting started in the sidebar.")),
  );

  // Who may take which way: connecting is a global admin's job, and exploring must not replace a
  // real tenant's connection.
  const s = await refreshSession();
  if (s && !s.global_admin) {
    connect.disabled = explore.disabled = true;
    connectReason.textContent = exploreReason.textContent = "Only a global admin can connect a tenant or explore with the sandbox tenant.";
  } else if (s && s.integration && s.integration !== "not_connected" && s.integration_cloud !== "sandbox") {
    explore.disabled = true;
    exploreReason.textContent = "This app is connected to your Microsoft 365 tenant; exploring would replace that connection. Remove it on the Integration page first if you want to explore.";
  }
}
