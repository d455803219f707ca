// The wallboard's overdue tasks: the open tasks past their due time, the most overdue first,
// escalated ones marked. A supervisor reads them from GET /api/v1/tasks?overdue=1 (with titles);
// a kiosk shows what GET /api/v1/wallboard carries for it (overdue_tasks: count, type, queue,
// owner, due, never the title, which may name a customer). Re-read with the board, so a task_*
// event (created, escalated, overdue, done) shows at once.
import { api, el, pretty } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const LIMIT = 20;
const secondsOf = (t) => (typeof t === "number" ? t : Date.parse(t) / 1000);  // epoch seconds or ISO 8601

export async function loadOverdueTasks() {
  const { tasks, now } = await api("GET", `/api/v1/tasks?overdue=1&limit=${LIMIT}`);
  showTasks(tasks, tasks.length >= LIMIT ? `${LIMIT}+` : String(tasks.length), now, "Task", (t) => t.title);
}

// A kiosk: the wallboard's own overdue_tasks (null while the store does not answer: left as it was).
export function showKioskOverdueTasks(overdue, now) {
  if (overdue) showTasks(overdue.tasks, String(overdue.count), now, "Queue", (t) => t.queue || "–");
}

function showTasks(tasks, count, now, firstColumn, first) {
  $("tasks-box").classList.remove("hidden");
  $("overdue-count").textContent = count;
  $("overdue-tasks").tHead.rows[0].cells[0].textContent = firstColumn;
  $("overdue-tasks").tBodies[0].replaceChildren(...tasks.map((t) => el("tr", { "data-task": t.task_id },
    el("td", {}, first(t), ...(t.escalated_to_supervisor ? [" ", el("span", { class: "badge locked" }, "escalated")] : [])),
    el("td", {}, pretty(t.type)), el("td", {}, `${t.owner.kind} ${t.owner.id}`),
    el("td", {}, el("span", { class: "badge " + t.priority }, t.priority)),
    el("td", { class: "num" }, overdueFor(secondsOf(now) - secondsOf(t.due_at))))));
  if (!tasks.length) $("overdue-tasks").tBodies[0].append(el("tr", {}, el("td", { colSpan: 5 }, "no overdue tasks")));
}

export function hideOverdueTasks() { $("tasks-box").classList.add("hidden"); }

function overdueFor(s) {
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
