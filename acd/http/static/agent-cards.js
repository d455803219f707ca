// Knowledge cards on the screen-pop: the cards the engine matched to the call's queue, intent and
// IVR path (config/knowledge/*.md), each with its version (the Markdown shown as plain text); and
// the customer's open tasks.
import { el } from "/static/common.js";

const $ = (id) => document.getElementById(id);

export function showCards(work) {
  const w = work && (work.call || work.offer);
  const cards = (w && w.cards) || [];
  $("pop-cards").replaceChildren(...cards.map((c) => el("article", { class: "card", "data-card": c.id, "aria-label": c.title },
    el("strong", {}, c.title), " ", el("span", { class: "card-version" }, `version ${c.version}`),
    el("div", { class: "card-body" }, c.body))));
  if (!cards.length) $("pop-cards").append(el("p", {}, w ? "no cards for this call" : "–"));
  const tasks = (w && w.open_tasks) || [];  // the customer's open tasks (acd/tasks/popsection.py)
  $("pop-tasks").replaceChildren(...tasks.map((t) => el("li", {}, `${t.title} — due ${new Date(t.due_at).toLocaleString()}`,
    ...(t.overdue ? [" ", el("span", { class: "badge locked" }, "overdue")] : []))));
  if (!tasks.length) $("pop-tasks").append(el("li", {}, w && w.customer ? "none" : "–"));
}
