import { api, clearToken, el, follow, pretty, seconds, setToken, token } from "/static/common.js";

const $ = (id) => document.getElementById(id);
// Agents are listed by state, in this order, then by name.
const ORDER = ["ringing", "reserved", "on_call", "wrap_up", "ready", "not_ready", "logged_out"];
let state = { queues: {}, agents: {} }, loadedAt = Date.now(), pending = null, stream = null;

async function signIn(t) {
  setToken(t);
  $("signin-error").textContent = "";
  try { await load(); } catch (e) {
    clearToken();
    $("signin-error").textContent = "Sign-in failed: " + (e.status === 403 ? "this page needs a supervisor's token" : e.message);
    return;
  }
  $("signin").classList.add("hidden");
  for (const id of ["queues-box", "agents-box", "signout"]) $(id).classList.remove("hidden");
  stream = follow({
    onEvent, onReset: () => load().catch(() => {}),
    onStatus: (s) => ($("status").textContent = s),
    onUnauthorized: () => signOut("Your session ended: sign in again."),
  });
}

function signOut(message = "") {
  if (stream) stream.close();
  stream = null; clearToken();
  for (const id of ["queues-box", "agents-box", "signout"]) $(id).classList.add("hidden");
  $("signin").classList.remove("hidden");
  $("signin-error").textContent = message;
  $("token").value = ""; $("token").focus();
}

async function load() {
  const live = await api("GET", "/api/v1/live");
  const now = Date.now();
  for (const a of Object.values(live.agents)) a.since = now - a.in_state_s * 1000;
  for (const q of Object.values(live.queues)) q.at = now;
  state = live; loadedAt = now;
  render();
}

function onEvent(kind, data) {
  if (kind === "agent_state" && state.agents[data.agent_id]) {
    Object.assign(state.agents[data.agent_id], { state: data.state, reason: data.reason, since: Date.now() });
    renderAgents();
  } else if (kind === "queue" && state.queues[data.queue] && "waiting" in data) {  // (a callback booking has no counts)
    Object.assign(state.queues[data.queue], { waiting: data.waiting, longest_wait_s: data.longest_wait_s, at: Date.now() });
    renderQueues();
  }
  // answered, abandoned, service level and calls handled come with the full picture:
  // one re-fetch for a burst of events
  clearTimeout(pending);
  pending = setTimeout(() => load().catch(() => {}), 300);
}

function render() { renderQueues(); renderAgents(); }

function longestWait(q) { return q.waiting > 0 ? q.longest_wait_s + (Date.now() - q.at) / 1000 : 0; }

function renderQueues() {
  $("queues").tBodies[0].replaceChildren(...Object.entries(state.queues).map(([name, q]) => el("tr", { "data-queue": name },
    el("th", { scope: "row" }, name), el("td", { class: "num waiting" }, q.waiting),
    el("td", { class: "num longest", "data-s": Math.round(longestWait(q)) }, seconds(longestWait(q))),
    el("td", { class: "num answered" }, q.answered ?? "–"), el("td", { class: "num abandoned" }, q.abandoned ?? "–"),
    el("td", { class: "num sl" }, q.service_level == null ? "–" : Math.round(q.service_level * 100) + " %"),
    el("td", { class: "num" }, q.asa_s == null ? "–" : seconds(q.asa_s)))));
}

function inState(a) { return Math.max(0, (Date.now() - (a.since ?? loadedAt)) / 1000); }

function renderAgents() {
  const agents = Object.entries(state.agents).sort(([ia, a], [ib, b]) =>
    (ORDER.indexOf(a.state) - ORDER.indexOf(b.state)) || (a.name || ia).localeCompare(b.name || ib));
  $("agents").tBodies[0].replaceChildren(...agents.map(([id, a]) => el("tr", { "data-agent": id, "data-state": a.state },
    el("th", { scope: "row" }, `${a.name} (${id})`),
    el("td", { class: "state " + a.state }, pretty(a.state) + (a.reason ? " – " + a.reason : "")),
    el("td", { class: "num in-state", "data-s": Math.round(inState(a)) }, seconds(inState(a))),
    el("td", { class: "num" }, a.calls))));
  const counts = {};
  for (const [, a] of agents) counts[a.state] = (counts[a.state] || 0) + 1;
  $("state-counts").replaceChildren(...ORDER.filter((s) => counts[s]).map((s) =>
    el("li", { class: s, "data-state": s }, `${pretty(s)}: `, el("strong", {}, String(counts[s])))));
}

function tick() {
  for (const row of $("agents").tBodies[0].rows) {
    const a = state.agents[row.dataset.agent], cell = row.querySelector(".in-state");
    if (a) { cell.dataset.s = Math.round(inState(a)); cell.textContent = seconds(inState(a)); }
  }
  for (const row of $("queues").tBodies[0].rows) {
    const q = state.queues[row.dataset.queue], cell = row.querySelector(".longest");
    if (q) { cell.dataset.s = Math.round(longestWait(q)); cell.textContent = seconds(longestWait(q)); }
  }
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("signout").addEventListener("click", () => signOut());
setInterval(tick, 1000);
if (token()) signIn(token());
