import { api, clearToken, el, follow, pretty, setToken, token } from "/static/common.js";

const $ = (id) => document.getElementById(id);
let state = { queues: {}, agents: {} }, loadedAt = Date.now(), pending = null;

async function signIn(t) {
  setToken(t);
  try { await load(); } catch (e) { clearToken(); $("signin-error").textContent = "Sign-in failed: " + e.message; return; }
  $("signin").classList.add("hidden");
  $("queues-box").classList.remove("hidden"); $("agents-box").classList.remove("hidden");
  follow(onEvent, load, (s) => ($("status").textContent = s));
}

async function load() {
  state = await api("GET", "/api/v1/live");
  loadedAt = Date.now();
  render();
}

function onEvent(kind, data) {
  if (kind === "agent_state" && state.agents[data.agent_id]) {
    const a = state.agents[data.agent_id];
    a.state = data.state; a.reason = data.reason; a.in_state_s = 0; a.since = Date.now();
    renderAgents();
  }
  // queue figures: one re-fetch for a burst of events
  clearTimeout(pending);
  pending = setTimeout(() => load().catch(() => {}), 300);
}

function render() { renderQueues(); renderAgents(); }

function renderQueues() {
  $("queues").tBodies[0].replaceChildren(...Object.entries(state.queues).map(([name, q]) => el("tr", { "data-queue": name },
    el("td", {}, name), el("td", { class: "num" }, q.waiting), el("td", { class: "num" }, q.longest_wait_s),
    el("td", { class: "num" }, q.answered), el("td", { class: "num" }, q.abandoned),
    el("td", { class: "num" }, q.service_level == null ? "–" : Math.round(q.service_level * 100) + "%"),
    el("td", { class: "num" }, q.asa_s == null ? "–" : Math.round(q.asa_s)))));
}

function inState(a) {
  const base = a.since ? 0 : a.in_state_s;
  const from = a.since || loadedAt;
  return Math.round(base + (Date.now() - from) / 1000);
}

function renderAgents() {
  $("agents").tBodies[0].replaceChildren(...Object.entries(state.agents).map(([id, a]) => el("tr", { "data-agent": id },
    el("td", {}, `${a.name} (${id})`),
    el("td", { class: a.state }, pretty(a.state) + (a.reason ? " – " + a.reason : "")),
    el("td", { class: "num in-state" }, inState(a)), el("td", { class: "num" }, a.calls))));
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
setInterval(() => { for (const row of $("agents").tBodies[0].rows) { const a = state.agents[row.dataset.agent]; if (a) row.querySelector(".in-state").textContent = inState(a); } }, 1000);
if (token()) signIn(token());
