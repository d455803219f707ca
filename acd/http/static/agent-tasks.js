// Follow-up tasks on the agent desktop: "my tasks" and my queues' tasks (complete or cancel),
// and the wrap-up form's follow-up task ("call back Tuesday"). Kept apart from agent.js, which
// calls initTasks, resetTasks, refreshTasks, and wrapupTask when the wrap-up is submitted.
import { api, el, pretty } from "/static/common.js";
import { openCustomer } from "/static/agent-customers.js";

const $ = (id) => document.getElementById(id);
let me = null, timer = null;

const when = (t) => new Date(t).toLocaleString();  // the API gives ISO 8601 with the offset

export async function initTasks(user) {
  me = user;
  const { types, priorities, queues } = await api("GET", "/api/v1/task-types");
  $("wt-type").replaceChildren(...types.map((t) => el("option", { value: t.type }, t.label)));
  $("wt-priority").replaceChildren(...priorities.map((p) => el("option", { value: p, selected: p === "normal" }, p)));
  $("wt-owner").replaceChildren(el("option", { value: "" }, "me"), ...queues.map((q) => el("option", { value: "queue:" + q }, "queue " + q)));
  $("tasks").classList.remove("hidden");
  showFields();
  await refreshTasks();
  // my tasks, my queues' and those taken away from me are pushed (task_* events); this is a safety net
  timer = setInterval(() => refreshTasks().catch(() => {}), 60000);
}

export function resetTasks() {
  me = null; clearInterval(timer); timer = null;
  $("tasks").classList.add("hidden");
  $("tasks-mine").replaceChildren(); $("tasks-queues").replaceChildren();
}

function row(t, ownerCell) {
  const done = el("button", { type: "button", "aria-label": `Done: ${t.title}`, onclick: () => change(t, "complete") }, "Done");
  const cancel = el("button", { type: "button", class: "secondary", "aria-label": `Cancel: ${t.title}`, onclick: () => change(t, "cancel") }, "Cancel");
  const tr = el("tr", { "data-task": t.task_id },
    el("td", {}, when(t.due_at), ...(t.overdue ? [" ", el("span", { class: "badge locked" }, "overdue")] : [])),
    el("td", {}, t.title, ...(t.escalated_to_supervisor ? [" ", el("span", { class: "badge" }, "escalated")] : []),
      ...callbackNote(t.callback)),
    el("td", {}, pretty(t.type)), el("td", {}, el("span", { class: "badge " + t.priority }, t.priority)),
    el("td", {}, ownerCell), el("td", {}, done, " ", cancel));
  if (t.overdue) tr.classList.add("overdue");
  return tr;
}

// A call-back task's state (GET /api/v1/tasks gives it): what became of its calls, on the row.
function callbackNote(cb) {
  if (!cb) return [];
  const of = `attempt ${cb.attempt} of ${cb.attempts}`;
  const text = {
    calling: `calling (attempt ${cb.attempt + 1} of ${cb.attempts})`,
    retry: `call-back failed (${of}), retry at ${cb.next_try_at ? when(cb.next_try_at) : "–"}`,
    exhausted: `call-back failed ${cb.attempt} of ${cb.attempts} times: with the supervisors`,
    connected: "call-back connected",
    unreachable: "call-back: no number to ring",
  }[cb.state];
  return text ? [el("div", { class: "callback-state dim", "data-state": cb.state }, text)] : [];
}

export async function refreshTasks() {
  if (!me) return;
  const { tasks } = await api("GET", "/api/v1/tasks");
  const mine = tasks.filter((t) => t.owner.kind === "agent"), queued = tasks.filter((t) => t.owner.kind === "queue");
  $("tasks-mine").replaceChildren(...mine.map((t) => row(t, customerCell(t))));
  if (!mine.length) $("tasks-mine").append(el("tr", {}, el("td", { colSpan: 6 }, "no open tasks")));
  $("tasks-queues").replaceChildren(...queued.map((t) => row(t, t.owner.id)));
  if (!queued.length) $("tasks-queues").append(el("tr", {}, el("td", { colSpan: 6 }, "no open tasks")));
}

// The task's customer: opens the record, the read audited as for this task.
function customerCell(t) {
  if (!t.customer_id) return "–";
  return el("button", { type: "button", class: "secondary", "aria-label": `Customer of: ${t.title}`,
    onclick: () => openCustomer(t.customer_id, t.task_id).catch((e) => ($("tasks-error").textContent = e.message)) }, "Open record");
}

async function change(t, what) {
  $("tasks-error").textContent = "";
  try { await api("POST", `/api/v1/tasks/${t.task_id}/${what}`, {}); await refreshTasks(); } catch (e) { $("tasks-error").textContent = e.message; }
}

function showFields() {
  for (const id of ["wt-type", "wt-title", "wt-due", "wt-owner", "wt-priority"]) $(id).disabled = !$("wt-on").checked;
}

// The wrap-up's task, or null when the box is not ticked. The due time is the agent's local time.
export function wrapupTask() {
  $("wt-error").textContent = "";
  if (!$("wt-on").checked) return null;
  const task = { type: $("wt-type").value, priority: $("wt-priority").value };
  if ($("wt-title").value.trim()) task.title = $("wt-title").value.trim();
  if ($("wt-due").value) task.due = new Date($("wt-due").value).toISOString();
  if ($("wt-owner").value.startsWith("queue:")) task.owner_queue = $("wt-owner").value.slice(6);
  return task;
}

export function wrapupTaskFailed(e) {
  if (e.body && e.body.field && $("wt-on").checked) $("wt-error").textContent = e.message;
}

export function clearWrapupTask() {
  $("wt-on").checked = false; $("wt-title").value = ""; $("wt-due").value = ""; $("wt-error").textContent = "";
  showFields();
}

$("wt-on").addEventListener("change", showFields);
