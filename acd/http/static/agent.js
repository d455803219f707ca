import { api, clearToken, el, follow, pretty, setToken, token } from "/static/common.js";

const $ = (id) => document.getElementById(id);
let me = null, agent = null, source = null, sinceBase = 0, sinceAt = 0;

async function signIn(t) {
  setToken(t);
  try {
    me = await api("GET", "/api/v1/me");
    if (!me.agent_id) throw new Error("this token is not an agent's");
  } catch (e) {
    clearToken(); $("signin-error").textContent = "Sign-in failed: " + e.message; return;
  }
  $("signin").classList.add("hidden"); $("desk").classList.remove("hidden");
  $("who").textContent = "— " + me.name;
  const [{ reasons }, { dispositions }] = await Promise.all([api("GET", "/api/v1/reasons"), api("GET", "/api/v1/dispositions")]);
  $("reason-pick").replaceChildren(...reasons.map((r) => el("option", { value: r.code }, r.label)));
  $("disposition").replaceChildren(el("option", { value: "" }, "— choose —"), ...dispositions.map((d) => el("option", { value: d.code }, d.label)));
  await refresh();
  source = follow(onEvent, refresh, (s) => ($("status").textContent = s));
}

async function refresh() {
  agent = await api("GET", `/api/v1/agents/${me.agent_id}`);
  sinceBase = agent.in_state_s; sinceAt = Date.now();
  renderState();
  renderWork(await api("GET", `/api/v1/agents/${me.agent_id}/work`));
}

function onEvent(kind, data) {
  if (data.agent_id && data.agent_id !== me.agent_id) return;
  refresh().catch((e) => ($("desk-error").textContent = e.message));
}

function renderState() {
  const s = $("state");
  s.textContent = pretty(agent.state); s.className = agent.state;
  $("reason").textContent = agent.reason ? `(${agent.reason})` : "";
  $("btn-ready").disabled = !["not_ready"].includes(agent.state);
  $("btn-not-ready").disabled = !["ready", "reserved", "ringing"].includes(agent.state);
  $("btn-login").disabled = agent.state !== "logged_out";
  $("btn-logout").disabled = !["ready", "not_ready"].includes(agent.state);
  $("wrapup").classList.toggle("hidden", agent.state !== "wrap_up");
}

function renderWork(work) {
  const w = work.call && !work.call.wrap_up ? work.call : work.offer;
  const pop = $("pop");
  if (!w) { if (agent.state !== "wrap_up") pop.classList.add("hidden"); return; }
  pop.classList.remove("hidden");
  $("pop-title").textContent = work.offer ? "Incoming call" : "On call";
  $("pop-ani").textContent = w.ani || "withheld";
  const c = w.customer;
  $("pop-customer").replaceChildren(c ? c.name : "unknown caller", ...(w.vip || (c && c.vip) ? [" ", el("span", { class: "badge vip" }, "VIP")] : []));
  $("pop-account").textContent = c && c.account_number ? c.account_number : "–";
  const v = w.verification;
  $("pop-verification").replaceChildren(
    el("span", { class: "badge" + (v.level === "verified" ? " verified" : "") }, v.level),
    v.method ? ` by ${v.method}` : "",
    ...(v.locked ? [" ", el("span", { class: "badge locked" }, "verification locked: check the caller")] : []),
  );
  $("pop-queue").textContent = w.queue;
  $("pop-waited").textContent = `${Math.round(w.waited_s)} s`;
  $("pop-notes").textContent = (w.notes || []).join(" · ") || "–";
  $("pop-path").replaceChildren(...(w.ivr_path || []).map((s) => el("li", {}, `${s.step} (${s.action}) → ${s.outcome}`)));
  $("pop-history").replaceChildren(...(w.last_interactions || []).map((i) => el("tr", {},
    el("td", {}, new Date(i.started_at * 1000).toLocaleString()), el("td", {}, i.outcome), el("td", {}, i.agent || "–"), el("td", {}, i.disposition || "–"))));
}

async function act(fn) {
  $("desk-error").textContent = "";
  try { await fn(); await refresh(); } catch (e) { $("desk-error").textContent = e.message; }
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("btn-ready").addEventListener("click", () => act(() => api("PUT", `/api/v1/agents/${me.agent_id}/state`, { state: "ready" })));
$("btn-not-ready").addEventListener("click", () => act(() => api("PUT", `/api/v1/agents/${me.agent_id}/state`, { state: "not_ready", reason: $("reason-pick").value })));
$("btn-login").addEventListener("click", () => act(() => api("POST", `/api/v1/agents/${me.agent_id}/login`)));
$("btn-logout").addEventListener("click", () => act(() => api("POST", `/api/v1/agents/${me.agent_id}/logout`)));
$("wrapup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(async () => {
    await api("POST", `/api/v1/agents/${me.agent_id}/wrapup`, { disposition: $("disposition").value, notes: $("notes").value });
    $("notes").value = ""; $("pop").classList.add("hidden");
  });
});
setInterval(() => { if (agent) $("in-state").textContent = `for ${Math.round(sinceBase + (Date.now() - sinceAt) / 1000)} s`; }, 1000);
if (token()) signIn(token());
