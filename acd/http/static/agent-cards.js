// Knowledge cards on the screen-pop: the cards the engine matched to the call's queue, intent and
// IVR path (config/knowledge/*.md), each with its version. The Markdown is shown as plain text.
import { el } from "/static/common.js";

const $ = (id) => document.getElementById(id);

export function showCards(work) {
  const w = work && (work.call || work.offer);
  const cards = (w && w.cards) || [];
  $("pop-cards").replaceChildren(...cards.map((c) => el("article", { class: "card", "data-card": c.id, "aria-label": c.title },
    el("strong", {}, c.title), " ", el("span", { class: "card-version" }, `version ${c.version}`),
    el("div", { class: "card-body" }, c.body))));
  if (!cards.length) $("pop-cards").append(el("p", {}, w ? "no cards for this call" : "–"));
}
