// Knowledge cards on the screen-pop: the cards the engine matched to the call's queue, intent and
// IVR path (config/knowledge/*.md), each with its version, formatted: `html` is the card's Markdown
// rendered by the server (acd/knowledge/markdown.py: the card's own text escaped, only the safe
// subset's tags); the customer's open tasks; and the customer's last survey score.
import { el } from "/static/common.js";

const $ = (id) => document.getElementById(id);

function cardBody(c) {
  const body = el("div", { class: "card-body" });
  if (c.html) body.innerHTML = c.html;  // escaped on the server; the page's CSP allows no script from it anyway
  else body.textContent = c.body;
  return body;
}

export function showCards(work) {
  const w = work && (work.call || work.offer);
  const cards = (w && w.cards) || [];
  $("pop-cards").replaceChildren(...cards.map((c) => el("article", { class: "card", "data-card": c.id, "aria-label": c.title },
    el("strong", {}, c.title), " ", el("span", { class: "card-version" }, `version ${c.version}`),
    cardBody(c))));
  if (!cards.length) $("pop-cards").append(el("p", {}, w ? "no cards for this call" : "–"));
  const tasks = (w && w.open_tasks) || [];  // the customer's open tasks (acd/tasks/popsection.py)
  $("pop-tasks").replaceChildren(...tasks.map((t) => el("li", {}, `${t.title} — due ${new Date(t.due_at).toLocaleString()}`,
    ...(t.overdue ? [" ", el("span", { class: "badge locked" }, "overdue")] : []))));
  if (!tasks.length) $("pop-tasks").append(el("li", {}, w && w.customer ? "none" : "–"));
  const survey = w && w.last_survey;  // acd/service/surveypop.py
  $("pop-survey").replaceChildren(survey
    ? el("span", {}, el("strong", { class: "survey-score", "data-score": survey.score }, `${survey.score} / ${survey.out_of}`),
      ` on ${survey.at ? new Date(typeof survey.at === "number" ? survey.at * 1000 : survey.at).toLocaleDateString() : "an earlier call"}` + (survey.agent ? ` with ${survey.agent}` : ""))
    : (w && w.customer ? "no survey answered" : "–"));
}
