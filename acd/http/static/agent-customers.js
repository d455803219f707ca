// Customer 360 on the agent desktop: search, the record (create, edit with per-field errors,
// phones and e-mails, history of changes), contacts on every channel, linking the current call.
// Kept apart from agent.js (which calls initCustomers, resetCustomers and showCall); every read
// names the agent's current call as its reason on the server side.
import { api, el } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["name", "account_number", "segment", "language", "owner_agent", "notes"];
let me = null, current = null, page = 1, query = "", callId = null, popCustomer = null, onLinked = () => {};

const when = (t) => new Date(t).toLocaleString();  // the API gives ISO 8601 with the offset
const shown = (v) => (v === null || v === undefined || v === "" ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function initCustomers(user, { linked } = {}) {
  me = user; onLinked = linked || onLinked;
  $("customers").classList.remove("hidden");
}

export function resetCustomers() {
  me = null; current = null; callId = null; popCustomer = null; page = 1; query = "";
  $("customers").classList.add("hidden");
  $("cust-record").classList.add("hidden");
  $("cust-results-table").classList.add("hidden");
  $("cust-results").replaceChildren(); $("cust-search-status").textContent = ""; $("cust-q").value = "";
}

// Called by agent.js with each screen-pop it renders: the pop's contacts on every channel, its
// earlier calls among them, newest first (one timeline), and
// which call "Link my current call" would link (only the agent's own connected or wrap-up call).
export function showCall(work) {
  const w = work && (work.call || work.offer);
  callId = work && work.call ? work.call.call_id : null;
  popCustomer = w && w.customer ? w.customer.customer_id : null;
  const recent = (w && w.recent_contacts) || [];
  $("pop-contacts").replaceChildren(...recent.map((c) => el("tr", { "data-channel": c.channel },
    el("td", {}, when(c.at)), el("td", {}, c.channel.replace("_", " ")), el("td", {}, c.direction),
    el("td", {}, c.subject || "–", ...(c.agent ? [` (${c.agent})`] : [])))));
  if (!recent.length) $("pop-contacts").append(el("tr", {}, el("td", { colSpan: 4 }, w && w.customer ? "no earlier contacts" : "–")));
  $("pop-open-customer").classList.toggle("hidden", !popCustomer);
  $("pop-find-customer").classList.toggle("hidden", Boolean(popCustomer) || !callId);
  $("cust-link").disabled = !callId || !current || current === popCustomer;
}

// ------------------------------------------------------------------ search
async function search(p = 1) {
  query = $("cust-q").value.trim(); page = p;
  $("cust-search-status").textContent = "Searching…";
  try {
    const r = await api("GET", `/api/v1/customers?q=${encodeURIComponent(query)}&page=${page}&per_page=10`);
    $("cust-search-status").textContent = r.total ? `${r.total} found, page ${r.page} of ${r.pages}` : "No customer found";
    $("cust-results-table").classList.toggle("hidden", !r.total);
    $("cust-results").replaceChildren(...r.customers.map((c) => el("tr", {},
      el("td", {}, c.name, ...(c.vip ? [" ", el("span", { class: "badge vip" }, "VIP")] : [])),
      el("td", {}, c.account_number || "–"), el("td", {}, c.phones.join(", ") || "–"), el("td", {}, c.emails.join(", ") || "–"),
      el("td", {}, el("button", { type: "button", class: "secondary", "aria-label": `Open ${c.name}`, onclick: () => openCustomer(c.customer_id) }, "Open")))));
    $("cust-prev").classList.toggle("hidden", page <= 1);
    $("cust-next").classList.toggle("hidden", page >= r.pages);
  } catch (e) { $("cust-search-status").textContent = "Search failed: " + e.message; }
}

// ------------------------------------------------------------------ the record
function clearErrors() {
  for (const f of [...FIELDS, "phones", "emails"]) { const n = $(`cf-${f}-error`); if (n) n.textContent = ""; $(`cf-${f}`).removeAttribute("aria-invalid"); }
  $("cust-error").textContent = ""; $("cust-warning").textContent = "";
}

function showProblems(e) {
  const problems = (e.body && e.body.problems) || (e.body && e.body.field ? [{ field: e.body.field, detail: e.message }] : []);
  let first = null;
  for (const p of problems) {
    const box = $(`cf-${p.field}-error`);
    if (!box) continue;
    box.textContent = p.detail; $(`cf-${p.field}`).setAttribute("aria-invalid", "true");
    first = first || $(`cf-${p.field}`);
  }
  $("cust-error").textContent = problems.length ? "Please correct the marked fields." : e.message;
  if (first) first.focus();
}

function showDuplicates(duplicates) {
  const box = $("cust-warning");
  box.replaceChildren();
  if (!duplicates || !duplicates.length) return;
  box.append("Possible duplicates: ", ...duplicates.flatMap((d, i) => [i ? "; " : "",
    el("button", { type: "button", class: "secondary", onclick: () => openCustomer(d.customer_id) }, d.name), ` (${d.reasons.join(", ")})`]));
}

function fill(c) {
  for (const f of FIELDS) $(`cf-${f}`).value = (c && c[f]) || "";
  $("cf-vip").checked = Boolean(c && c.vip);
  $("cf-phones").value = ""; $("cf-emails").value = "";
}

// `reason`: why the record is read, for the access audit (a task's id; default: the agent's call).
export async function openCustomer(id, reason) {
  clearErrors();
  const why = reason ? "?reason=" + encodeURIComponent(reason) : "";
  const [c, { revisions }, { contacts }] = await Promise.all([api("GET", `/api/v1/customers/${id}${why}`),
    api("GET", `/api/v1/customers/${id}/revisions${why}`), api("GET", `/api/v1/customers/${id}/contacts${why}`)]);
  current = id;
  $("cust-record").classList.remove("hidden");
  $("cust-existing").classList.remove("hidden");
  for (const n of document.querySelectorAll(".cf-new-only")) n.classList.add("hidden");
  $("cust-record-title").textContent = `Customer: ${c.name}`;
  fill(c);
  renderPoints(c);
  renderContacts(contacts);
  renderHistory(revisions);
  $("cust-link").disabled = !callId || current === popCustomer;
  $("cust-record-title").focus();
}

function newCustomer() {
  clearErrors();
  current = null;
  $("cust-record").classList.remove("hidden");
  $("cust-existing").classList.add("hidden");
  for (const n of document.querySelectorAll(".cf-new-only")) n.classList.remove("hidden");
  $("cust-record-title").textContent = "New customer";
  fill(null);
  $("cust-link").disabled = true;
  $("cf-name").focus();
}

function formValues() {
  const body = Object.fromEntries(FIELDS.map((f) => [f, $(`cf-${f}`).value]));
  body.vip = $("cf-vip").checked;
  if (!current) { body.phones = $("cf-phones").value; body.emails = $("cf-emails").value; }
  return body;
}

async function save() {
  clearErrors();
  try {
    const r = current
      ? await api("PATCH", `/api/v1/customers/${current}`, formValues())
      : await api("POST", "/api/v1/customers", formValues());
    await openCustomer(r.customer.customer_id);
    $("cust-error").textContent = "";
    showDuplicates(r.duplicates);
    $("cust-search-status").textContent = "Saved.";
  } catch (e) { showProblems(e); }
}

function renderPoints(c) {
  const items = (c.contacts || []).map((p) => el("li", {},
    `${p.kind === "phone" ? "Phone" : "E-mail"} ${p.value} `, ...(p.preferred ? [el("span", { class: "badge verified" }, "preferred"), " "] : [
      el("button", { type: "button", class: "secondary", "aria-label": `Make ${p.value} preferred`, onclick: () => pointAction("PUT", p, "/preferred") }, "Make preferred"), " "]),
    el("button", { type: "button", class: "secondary", "aria-label": `Remove ${p.value}`, onclick: () => pointAction("DELETE", p, "") }, "Remove")));
  $("cust-points").replaceChildren(...(items.length ? items : [el("li", {}, "no phone or e-mail")]));
}

async function pointAction(method, p, tail) {
  try {
    const c = await api(method, `/api/v1/customers/${current}/contact-points/${p.kind}/${encodeURIComponent(p.value)}${tail}`);
    renderPoints(c);
    renderHistory((await api("GET", `/api/v1/customers/${current}/revisions`)).revisions);
  } catch (e) { $("cust-error").textContent = e.message; }
}

function renderContacts(contacts) {
  $("cust-contacts").replaceChildren(...contacts.map((c) => el("tr", {}, el("td", {}, when(c.at)), el("td", {}, c.channel.replace("_", " ")),
    el("td", {}, c.direction), el("td", {}, c.subject || c.summary || "–"), el("td", {}, c.agent || c.source))));
  if (!contacts.length) $("cust-contacts").append(el("tr", {}, el("td", { colSpan: 5 }, "no contacts other than calls")));
}

function renderHistory(revisions) {
  $("cust-history").replaceChildren(...[...revisions].reverse().map((r) => el("tr", {},
    el("td", {}, when(r.at)), el("td", {}, r.field), el("td", {}, shown(r.old)), el("td", {}, shown(r.new)), el("td", {}, r.by))));
}

async function linkCall() {
  try {
    const r = await api("POST", `/api/v1/agents/${me.agent_id}/link`, { customer_id: current });
    $("cust-search-status").textContent = `Call linked to this customer.`;
    popCustomer = r.customer_id;
    $("cust-link").disabled = true;
    await openCustomer(current);
    await onLinked();
  } catch (e) { $("cust-error").textContent = e.message; }
}

// ------------------------------------------------------------------ wiring
$("cust-search-form").addEventListener("submit", (e) => { e.preventDefault(); search(1); });
$("cust-prev").addEventListener("click", () => search(page - 1));
$("cust-next").addEventListener("click", () => search(page + 1));
$("cust-new").addEventListener("click", newCustomer);
$("cust-form").addEventListener("submit", (e) => { e.preventDefault(); save(); });
$("cust-link").addEventListener("click", linkCall);
$("pop-open-customer").addEventListener("click", () => popCustomer && openCustomer(popCustomer));
$("pop-find-customer").addEventListener("click", () => $("cust-q").focus());
$("cust-point-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const c = await api("POST", `/api/v1/customers/${current}/contact-points`,
      { kind: $("cp-kind").value, value: $("cp-value").value, preferred: $("cp-preferred").checked });
    $("cp-value").value = ""; $("cp-preferred").checked = false;
    renderPoints(c);
    renderHistory((await api("GET", `/api/v1/customers/${current}/revisions`)).revisions);
  } catch (e) { $("cust-error").textContent = e.message; }
});
$("cust-contact-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", `/api/v1/customers/${current}/contacts`, {
      channel: $("cc-channel").value, direction: $("cc-direction").value, subject: $("cc-subject").value, summary: $("cc-summary").value });
    $("cc-subject").value = ""; $("cc-summary").value = "";
    renderContacts((await api("GET", `/api/v1/customers/${current}/contacts`)).contacts);
  } catch (e) { $("cust-error").textContent = e.message; }
});
