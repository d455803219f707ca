import { api, clearToken, el, follow, pretty, seconds, setToken, token, useKioskStorage } from "/static/common.js";
import { hideOverdueTasks, loadOverdueTasks, showKioskOverdueTasks } from "/static/wallboard-tasks.js";

// Two modes:
// - supervisor: signs in with a token (sessionStorage); live updates from the event stream plus a
//   refresh every REFRESH_MS; listen / whisper / barge on agents' calls, and "not ready after this
//   call" (with the reason picked above the table) on an agent who is on a call.
// - kiosk (/wallboard#kiosk=<token>): a wall screen's read-only token, kept in localStorage so the
//   screen needs no sign-in after a restart; polls GET /api/v1/wallboard; large type; no actions.
const $ = (id) => document.getElementById(id);
const ORDER = ["ringing", "reserved", "on_call", "wrap_up", "ready", "not_ready", "logged_out"];  // agents by state
const REFRESH_MS = 5000;
let board = null, loadedAt = Date.now(), pending = null, stream = null, poller = null, withTasks = false;
const kiosk = location.hash.startsWith("#kiosk");

function zoneFormat(opts) {
  try { return new Intl.DateTimeFormat(undefined, { ...opts, timeZone: board?.time_zone || "UTC" }); }
  catch { return new Intl.DateTimeFormat(undefined, opts); }
}
const pct = (v) => (v == null ? "–" : (v * 100).toFixed(1) + " %");
const num = (v) => (v == null ? "–" : String(v));
const secs = (v) => (v == null ? "–" : seconds(v));

async function signIn(t) {
  setToken(t);
  $("signin-error").textContent = "";
  try { await load(); } catch (e) {
    if (kiosk && e.status !== 401 && e.status !== 403) {  // the engine is restarting: keep the token, try again
      $("status").textContent = "reconnecting…";
      setTimeout(() => signIn(t), REFRESH_MS);
      return;
    }
    clearToken();
    $("signin-error").textContent = "Sign-in failed: " + (e.status === 403 ? "this page needs a supervisor's or a kiosk token" : e.message);
    return;
  }
  $("signin").classList.add("hidden");
  for (const id of ["queues-box", "agents-box"]) $(id).classList.remove("hidden");
  let readOnly = kiosk;
  if (!kiosk) {  // a kiosk token typed into the form reads the wallboard, nothing else (no stream, no actions)
    try { await api("GET", "/api/v1/me"); } catch (e) { if (e.status === 403) readOnly = true; }
    if (readOnly) document.body.classList.add("kiosk");
  }
  if (!readOnly) {
    withTasks = true;
    loadOverdueTasks().catch(() => {});
    $("signout").classList.remove("hidden");
    const { reasons } = await api("GET", "/api/v1/reasons");
    $("force-reason").replaceChildren(...reasons.map((r) => el("option", { value: r.code }, r.label)));
    stream = follow({
      onEvent, onReset: () => load().catch(() => {}),
      onStatus: (s) => ($("status").textContent = s),
      onUnauthorized: () => signOut("Your session ended: sign in again."),
    });
  } else {
    $("status").textContent = "kiosk";
  }
  poller = setInterval(() => load().then(() => { if (kiosk) $("status").textContent = "kiosk"; })
    .catch((e) => { $("status").textContent = e.status === 401 ? "token refused" : "reconnecting…"; }), REFRESH_MS);
}

function signOut(message = "") {
  if (stream) stream.close();
  clearInterval(poller);
  stream = null; poller = null; withTasks = false; clearToken();
  hideOverdueTasks();
  for (const id of ["queues-box", "agents-box", "signout"]) $(id).classList.add("hidden");
  $("signin").classList.remove("hidden");
  $("signin-error").textContent = message;
  $("token").value = ""; $("token").focus();
}

async function load() {
  const data = await api("GET", "/api/v1/wallboard");
  const now = Date.now();
  for (const a of data.agents) a.since = now - a.in_state_s * 1000;
  for (const q of data.queues) q.at = now;
  board = data; loadedAt = now;
  $("updated").textContent = "updated " + zoneFormat({ timeStyle: "medium" }).format(new Date(data.now));
  $("day").textContent = zoneFormat({ dateStyle: "medium" }).format(new Date(data.day_start)) + " (" + data.time_zone + ")";
  $("day-warning").classList.toggle("hidden", data.day_figures !== "unavailable");
  render();
  if (withTasks) await loadOverdueTasks();
  else showKioskOverdueTasks(data.overdue_tasks, data.now);
}

function onEvent(kind, data) {
  if (!board) return;
  const agent = board.agents.find((a) => a.agent_id === data.agent_id);
  if (kind === "agent_state" && agent) {
    Object.assign(agent, { state: data.state, reason: data.reason, since: Date.now() });
    renderAgents();
  }
  const queue = board.queues.find((q) => q.queue === data.queue);
  if (kind === "queue" && queue && "waiting" in data) {  // (a callback booking has no counts)
    Object.assign(queue, { waiting: data.waiting, longest_wait_s: data.longest_wait_s, at: Date.now() });
    renderQueues();
  }
  clearTimeout(pending);  // the day's figures come with the full picture: one re-fetch for a burst of events
  pending = setTimeout(() => load().catch(() => {}), 300);
}

function render() { renderQueues(); renderAgents(); }

function longestWait(q) { return q.waiting > 0 ? q.longest_wait_s + (Date.now() - q.at) / 1000 : 0; }

function renderQueues() {
  $("queues").tBodies[0].replaceChildren(...board.queues.map((q) => el("tr", { "data-queue": q.queue },
    el("th", { scope: "row" }, q.queue), el("td", { class: "num waiting" }, q.waiting),
    el("td", { class: "num longest", "data-s": Math.round(longestWait(q)) }, seconds(longestWait(q))),
    el("td", { class: "num offered" }, num(q.offered)), el("td", { class: "num answered" }, num(q.answered)),
    el("td", { class: "num abandoned" }, num(q.abandoned)), el("td", { class: "num abandon-rate" }, pct(q.abandon_rate)),
    el("td", { class: "num sl" + (q.sl_colour ? " sl-" + q.sl_colour : ""), "data-colour": q.sl_colour || "none" }, pct(q.service_level)),
    el("td", { class: "num target" }, `${Math.round(q.service_level_goal * 100)} % in ${q.service_level_s} s`),
    el("td", { class: "num asa" }, secs(q.asa_s)), el("td", { class: "num aht" }, secs(q.aht_s)),
    el("td", { class: "num staffed" }, q.agents.staffed), el("td", { class: "num available" }, q.agents.available),
    el("td", { class: "num on-call" }, q.agents.on_call))));
}

function inState(a) { return Math.max(0, (Date.now() - (a.since ?? loadedAt)) / 1000); }

async function spy(agentId, mode) {
  try {
    const r = await api("POST", `/api/v1/agents/${encodeURIComponent(agentId)}/spy`, { mode });
    $("spy-result").textContent = `${pretty(mode)}: calling your phone (${r.endpoint}) for ${agentId}'s call`;
  } catch (e) { $("spy-result").textContent = `Could not ${mode}: ${e.message}`; }
}

// A supervisor's "not ready after this call": accepted (202), the agent goes not ready when the call is done.
async function notReadyAfterCall(agentId) {
  const reason = $("force-reason").value;
  try {
    const r = await api("PUT", `/api/v1/agents/${encodeURIComponent(agentId)}/state`, { state: "not_ready", reason });
    const agent = board.agents.find((a) => a.agent_id === agentId);
    if (agent) { agent.not_ready_after_call = r.not_ready_after_call; renderAgents(); }
    $("spy-result").textContent = r.state === "not_ready" ? `${agentId} is not ready (${reason})`
      : `${agentId} goes not ready (${reason}) after this call`;
  } catch (e) { $("spy-result").textContent = `Could not set ${agentId} not ready: ${e.message}`; }
}

function actions(id, a) {
  if (document.body.classList.contains("kiosk") || a.state !== "on_call") return el("td", { class: "supervisor-only" });
  const pause = a.not_ready_after_call
    ? el("span", { class: "after-call-pending dim" }, `not ready after call: ${a.not_ready_after_call}`)
    : el("button", { type: "button", class: "secondary not-ready-after", onclick: () => notReadyAfterCall(id) }, "Not ready after this call");
  return el("td", { class: "supervisor-only" }, el("span", { class: "actions" },
    ...["listen", "whisper", "barge"].map((mode) => el("button", { type: "button", class: "secondary " + mode, onclick: () => spy(id, mode) }, pretty(mode))),
    pause));
}

function renderAgents() {
  const agents = [...board.agents].sort((a, b) =>
    (ORDER.indexOf(a.state) - ORDER.indexOf(b.state)) || (a.name || a.agent_id).localeCompare(b.name || b.agent_id));
  $("agents").tBodies[0].replaceChildren(...agents.map((a) => el("tr", { "data-agent": a.agent_id, "data-state": a.state },
    el("th", { scope: "row" }, `${a.name} (${a.agent_id})`),
    el("td", { class: "state " + a.state }, pretty(a.state) + (a.reason ? " – " + a.reason : "")),
    el("td", { class: "num in-state", "data-s": Math.round(inState(a)) }, seconds(inState(a))),
    el("td", { class: "num" }, a.calls), actions(a.agent_id, a))));
  const counts = Object.fromEntries(ORDER.map((s) => [s, 0]));
  for (const a of agents) counts[a.state] = (counts[a.state] || 0) + 1;
  $("state-counts").replaceChildren(...ORDER.map((s) =>  // every state, even at 0
    el("li", { class: s, "data-state": s }, `${pretty(s)}: `, el("strong", {}, String(counts[s])))));
}

function tick() {
  $("clock").textContent = zoneFormat({ timeStyle: "medium" }).format(new Date());
  if (!board) return;
  for (const row of $("agents").tBodies[0].rows) {
    const a = board.agents.find((x) => x.agent_id === row.dataset.agent), cell = row.querySelector(".in-state");
    if (a) { cell.dataset.s = Math.round(inState(a)); cell.textContent = seconds(inState(a)); }
  }
  for (const row of $("queues").tBodies[0].rows) {
    const q = board.queues.find((x) => x.queue === row.dataset.queue), cell = row.querySelector(".longest");
    if (q) { cell.dataset.s = Math.round(longestWait(q)); cell.textContent = seconds(longestWait(q)); }
  }
}

if (kiosk) {
  useKioskStorage();
  document.body.classList.add("kiosk");
  $("signin-title").textContent = "Sign in (kiosk token)";
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("kiosk");
  if (fromLink) setToken(fromLink);  // the link's token is kept; the address bar keeps only #kiosk
  history.replaceState(null, "", location.pathname + "#kiosk");
}
$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("signout").addEventListener("click", () => signOut());
setInterval(tick, 1000);
tick();
if (token()) signIn(token());
