import { api, clearToken, el, follow, pretty, seconds, setToken, token } from "/static/common.js";
import { initCustomers, resetCustomers, showCall } from "/static/agent-customers.js";
import { showCards } from "/static/agent-cards.js";
import { clearWrapupTask, initTasks, refreshTasks, resetTasks, wrapupTask, wrapupTaskFailed } from "/static/agent-tasks.js";

const $ = (id) => document.getElementById(id);
let me = null, agent = null, stream = null, since = 0, lastPop = null, refreshing = null, again = false;

async function signIn(t) {
  setToken(t);
  $("signin-error").textContent = "";
  try {
    me = await api("GET", "/api/v1/me");
    if (!me.agent_id) throw new Error("this token is not an agent's");
    const [{ reasons }, { dispositions }] = await Promise.all([api("GET", "/api/v1/reasons"), api("GET", "/api/v1/dispositions")]);
    $("reason-pick").replaceChildren(...reasons.map((r) => el("option", { value: r.code }, r.label)));
    $("disposition").replaceChildren(el("option", { value: "" }, "— choose —"), ...dispositions.map((d) => el("option", { value: d.code }, d.label)));
    await refresh();
  } catch (e) {
    clearToken(); me = null;
    $("signin-error").textContent = "Sign-in failed: " + e.message;
    return;
  }
  $("signin").classList.add("hidden");
  for (const id of ["desk", "signout"]) $(id).classList.remove("hidden");
  $("who").textContent = "— " + me.name;
  initCustomers(me, { linked: () => refresh().catch(showError) });
  initTasks(me).catch((e) => ($("tasks-error").textContent = e.message));
  $("desk-title").focus();
  stream = follow({
    onEvent, onReset: () => refresh().catch(showError),
    onStatus: (s) => ($("status").textContent = s),
    onUnauthorized: () => signOut("Your session ended: sign in again."),
  });
}

function signOut(message = "") {
  if (stream) stream.close();
  stream = null; me = null; agent = null; lastPop = null; clearToken();
  resetCustomers(); resetTasks();
  for (const id of ["desk", "pop", "wrapup", "signout"]) $(id).classList.add("hidden");
  $("signin").classList.remove("hidden");
  $("who").textContent = "";
  $("signin-error").textContent = message;
  $("token").value = ""; $("token").focus();
}

// One refresh at a time; events arriving meanwhile ask for one more, so a burst costs two.
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      const [a, work] = await Promise.all([api("GET", `/api/v1/agents/${me.agent_id}`), api("GET", `/api/v1/agents/${me.agent_id}/work`)]);
      agent = a; since = Date.now() - a.in_state_s * 1000;
      renderState(); renderWork(work);
    } while (again && me);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

function onEvent(kind, data) {
  // a task event reaches this stream for a reason (its owner, one of my queues, or it was mine
  // and was reassigned away: data.agent_id is then the new owner), so every one re-reads the tasks
  if (kind.startsWith("task_")) { refreshTasks().catch(showError); return; }
  if (data.agent_id && data.agent_id !== me.agent_id) return;
  refresh().catch(showError);
}

function showError(e) { $("desk-error").textContent = e.message; }

function renderState() {
  const s = $("state");
  s.textContent = pretty(agent.state); s.className = agent.state;
  const pause = agent.not_ready_after_call;  // asked for during the call (by the agent or a supervisor)
  $("reason").textContent = agent.reason ? `(${agent.reason})` : pause ? `(not ready after this call: ${pause})` : "";
  tick();
  const busy = ["on_call", "wrap_up"].includes(agent.state);
  $("btn-ready").disabled = !["not_ready", "logged_out"].includes(agent.state);
  $("btn-not-ready").disabled = !["ready", "reserved", "ringing", "on_call", "wrap_up"].includes(agent.state) || (busy && Boolean(pause));
  $("btn-not-ready").textContent = busy ? "Not ready after this call" : "Not ready";
  $("btn-logout").disabled = !["ready", "not_ready"].includes(agent.state);
  const wrap = $("wrapup"), wasHidden = wrap.classList.contains("hidden");
  wrap.classList.toggle("hidden", agent.state !== "wrap_up");
  if (agent.state === "wrap_up" && wasHidden) $("disposition").focus();  // the one thing left to do
}

function renderWork(work) {
  showCall(work);  // customer 360: the pop's contacts, and the call "Link" would link
  showCards(work);  // knowledge cards for the call's queue, intent and IVR path
  const wrapping = Boolean(work.call && work.call.wrap_up);
  // in wrap-up the engine sends the call's screen-pop again (a reloaded desktop still shows it)
  const w = work.call && (!wrapping || work.call.queue) ? work.call : work.offer;
  const pop = $("pop");
  if (!w) {
    if (agent.state !== "wrap_up") { pop.classList.add("hidden"); lastPop = null; }
    else $("pop-title").textContent = "Last call (wrap-up)";
    return;
  }
  pop.classList.remove("hidden");
  pop.dataset.callId = w.call_id;
  const kind = work.offer ? "Incoming call" : wrapping ? "Last call (wrap-up)" : "On call";
  $("pop-title").textContent = kind;
  $("pop-ani").textContent = w.ani || "withheld";
  const c = w.customer, vip = w.vip || (c && c.vip);
  $("pop-customer").replaceChildren(c ? c.name : "unknown caller", ...(vip ? [" ", el("span", { class: "badge vip" }, "VIP")] : []));
  $("pop-account").textContent = c && c.account_number ? c.account_number : "–";
  const v = w.verification || {};
  $("pop-verification").replaceChildren(
    el("span", { class: "badge" + (v.level === "verified" ? " verified" : "") }, v.level || "none"),
    v.method ? ` by ${v.method}` : "",
    ...(v.locked ? [" ", el("span", { class: "badge locked" }, "verification locked: check the caller")] : []),
  );
  $("pop-queue").textContent = w.queue;
  $("pop-waited").textContent = seconds(w.waited_s);
  $("pop-notes").textContent = (w.notes || []).join(" · ") || "–";
  $("pop-path").replaceChildren(...(w.ivr_path || []).map((s) => el("li", {}, `${s.step} (${s.action}) → ${s.outcome}`)));
  if (!(w.ivr_path || []).length) $("pop-path").append(el("li", {}, "no IVR steps"));
  // the earlier calls are on the recent contacts' one timeline (agent-customers.js showCall)
  // A short sentence for screen readers, once per offer and once per connect (not per refresh).
  const key = `${kind}:${w.call_id}`;
  if (key !== lastPop && !wrapping) {
    lastPop = key;
    $("announce").textContent = `${kind}: ${c ? c.name : "unknown caller"}${vip ? ", VIP" : ""}, ${v.level || "not verified"}${v.locked ? ", verification locked" : ""}, queue ${w.queue}.`;
  }
}

async function act(fn) {
  $("desk-error").textContent = "";
  try { await fn(); await refresh(); } catch (e) { showError(e); }
}

function tick() { if (agent) $("in-state").textContent = `for ${seconds((Date.now() - since) / 1000)}`; }

const agentPath = (tail) => `/api/v1/agents/${me.agent_id}/${tail}`;
$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("signout").addEventListener("click", () => signOut());
$("btn-ready").addEventListener("click", () => act(() => agent.state === "logged_out"
  ? api("POST", agentPath("login")) : api("PUT", agentPath("state"), { state: "ready" })));
$("btn-not-ready").addEventListener("click", () => act(() => api("PUT", agentPath("state"), { state: "not_ready", reason: $("reason-pick").value })));
$("btn-logout").addEventListener("click", () => act(() => api("POST", agentPath("logout"))));
$("btn-extend").addEventListener("click", () => act(() => api("POST", agentPath("wrapup/extend"), { seconds: 60 })));
$("wrapup-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(async () => {
    const body = { disposition: $("disposition").value, notes: $("notes").value }, task = wrapupTask();
    if (task) body.task = task;
    try { await api("POST", agentPath("wrapup"), body); } catch (e) { wrapupTaskFailed(e); throw e; }
    if (task) { clearWrapupTask(); refreshTasks().catch(showError); }
    $("notes").value = ""; $("disposition").value = "";
    $("pop").classList.add("hidden"); lastPop = null;
    $("desk-title").focus();
  });
});
setInterval(tick, 1000);
if (token()) signIn(token());
