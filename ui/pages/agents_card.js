// The Integration page's "Host agents" card (team stores): the agents online (login, host, state,
// last heartbeat, current job), the queue's depth and oldest waiting job, and — first and in red —
// why the queue is paused ("reconnect the host"). The same facts as `tsched agent status`. With the
// embedded store the card stays hidden (its one line says the agent is for team stores), so a
// one-seat page is unchanged. `refresh()` redraws it; the page calls it when the change feed
// reports `work_queue` or `agents`.
import { invoke } from "../ipc.js";
import { h, errorText } from "../dom.js";

const STATE_CLASS = { running: "ok", paused: "danger", stopped: "muted" };

/** "4 s", "3 min", "2 h": how long ago, roughly. */
function age(secs) {
  const s = Math.max(0, Math.round(secs || 0));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

function agentsTable(online) {
  return h("table", { id: "agents-online", class: "rows" },
    h("thead", {}, h("tr", {}, ["Agent", "Login", "Host", "State", "Last heartbeat", "Current job"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, online.map((a) => h("tr", {},
      h("td", {}, a.name),
      h("td", {}, a.login),
      h("td", {}, a.host),
      h("td", {}, h("span", { class: `badge ${STATE_CLASS[a.state] || "muted"}` }, a.state),
        a.pause_reason ? h("span", { class: "hint" }, ` ${a.pause_reason}`) : null),
      h("td", {}, `${age(a.heartbeat_age_secs)} ago`),
      h("td", {}, a.current_job != null ? `job ${a.current_job}` : "—")))));
}

function queueFacts(q) {
  const rows = [
    h("dt", {}, "Waiting"), h("dd", { id: "agents-queued" }, String(q.queued)),
    h("dt", {}, "Being carried out"), h("dd", { id: "agents-claimed" }, String(q.claimed)),
  ];
  if (q.oldest_waiting_since) {
    rows.push(h("dt", {}, "Oldest waiting"),
      h("dd", { id: "agents-oldest" }, `since ${q.oldest_waiting_since} (${age(q.oldest_waiting_secs)})`));
  }
  return h("dl", { class: "facts" }, rows);
}

export function agentsCard() {
  const card = h("section", { id: "agents-card", class: "card", "aria-labelledby": "agents-title", "aria-live": "polite" });
  const title = () => h("h2", { id: "agents-title" }, "Host agents");

  function draw(page) {
    card.hidden = !page.team;
    if (!page.team) {
      card.replaceChildren(title(), h("p", { id: "agents-embedded", class: "hint" },
        "The host agent is for team stores: with this computer's embedded store, meetings and batches run here directly."));
      return;
    }
    const s = page.status;
    const parts = [title()];
    if (s.paused) {
      parts.push(h("div", { id: "agents-paused", class: "alert error", role: "alert" },
        h("strong", {}, "The queue is paused: "), s.paused,
        ". Queued meetings and batches wait until a global admin reconnects the host on this page; the agents then resume by themselves."));
    }
    parts.push(s.online.length
      ? agentsTable(s.online)
      : h("p", { id: "agents-none", class: "empty" },
        "No host agent is online: queued work waits until one runs (", h("code", {}, "tsched agent run"),
        " on the machine that holds the host's token)."));
    parts.push(h("h3", {}, "Queue"), queueFacts(s.queue), inApp);
    card.replaceChildren(...parts);
  }

  // This window may run the agent itself while it is open (a global admin's machine that holds
  // the host's token); off by default, and off again when the window closes.
  const inAppBox = h("input", { type: "checkbox", id: "agent-in-app" });
  const inAppSaid = h("span", { id: "agent-in-app-said", class: "hint" });
  const inAppError = h("div", { id: "agent-in-app-error", class: "error", role: "alert" });
  const inApp = h("div", { class: "field" },
    h("label", { for: "agent-in-app" }, inAppBox, " Run the host agent in this window while it is open"),
    h("p", { class: "hint" }, "For a global admin on the machine that holds the host's token; otherwise run ",
      h("code", {}, "tsched agent run"), " there. "), inAppSaid, inAppError);
  function showInApp(v) {
    inAppBox.checked = v.running;
    inAppSaid.textContent = v.last ? `Agent: ${v.last}` : "";
  }
  inAppBox.addEventListener("change", async () => {
    inAppError.textContent = "";
    inAppBox.disabled = true;
    try { showInApp(await invoke("agent_in_app_set", { on: inAppBox.checked })); }
    catch (e) { inAppBox.checked = false; inAppError.textContent = errorText(e); }
    finally { inAppBox.disabled = false; }
  });

  async function refresh() {
    try {
      draw(await invoke("agent_status"));
      if (!card.hidden) showInApp(await invoke("agent_in_app"));
    }
    catch (e) { card.hidden = false; card.replaceChildren(title(), h("div", { class: "alert error", role: "alert" }, errorText(e))); }
  }

  card.append(title());
  card.hidden = true;
  return { card, refresh };
}
