"""The customer routes (``/api/v1/customers...``): search, the record and its history, create and
edit, contact points, contacts other than calls (and their webhook), linking the agent's own call,
duplicates, merge and undo, the data-quality report, export, erasure and the access audit.

Every read of a record is written to the access audit with who and why: the ``reason`` given
(a call or task id), else the reader's current call. Handlers take the customers' use case
(``acd.usecases.customers``), build typed inputs and call it or the store's own use cases
(``acd.store.*``) with its store; errors map to HTTP in ``acd.http.errors``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from acd.http.api import ADMIN, ANY, SELF_OR_SUPERVISOR, SIGNIN, SUPERVISOR, WEBHOOK, Route, _json_body, _user, register_routes
from acd.http.keys import CUSTOMERS
from acd.http.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from acd.http.times import api_shape, engine_tz, json_reply
from acd.http.users import Role
from acd.http.webhooktoken import WebhookTokenCheck, well_formed
from acd.logs import get_logger
from acd.store import audit, contacts, customers_edit, merge, search
from acd.store.duplicates import candidates_for
from acd.store.sql import SqlStore

log = get_logger(__name__)


def _reason(request: web.Request, given: str | None = None) -> str | None:
    """Why this read or change: the request's ``reason`` (a call or task id), else the user's call."""
    given = given or request.query.get("reason")
    if given:
        return str(given)[:120]
    call = request.app[CUSTOMERS].current_call(_user(request).agent_id)
    return f"call {call}" if call else None


async def _audit(request: web.Request, ids: Iterable[str], action: str, reason: str | None = None) -> None:
    await audit.record_access(request.app[CUSTOMERS].store, ids, who=_user(request).id, action=action,
                              reason=reason or _reason(request))


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise Invalid(name, "a whole number") from None


# --------------------------------------------------------------------------- search and the record
async def customer_search(request: web.Request) -> web.Response:
    store = request.app[CUSTOMERS].store
    page = await search.search_customers(store, request.query.get("q", ""), page=_int(request, "page", 1),
                                         per_page=_int(request, "per_page", 20))
    await _audit(request, [c["customer_id"] for c in page.customers], "search")
    return json_reply(request, page.to_dict())


async def customer_get(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    record = await store.get_customer(cid)
    await _audit(request, [cid], "record")
    return json_reply(request, record)


async def customer_revisions(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    await store.get_customer(cid)
    await _audit(request, [cid], "record")
    return json_reply(request, {"revisions": await store.revisions(cid)})


async def customer_timeline(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    data = await contacts.full_timeline(store, cid)
    await _audit(request, [cid], "timeline")
    return json_reply(request, data)


async def customer_export(request: web.Request) -> web.Response:
    from acd.store.dataio import export_customer

    fmt = request.query.get("format", "json")
    if fmt not in ("json", "xml"):
        raise Invalid("format", "json or xml")
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    tz = engine_tz(request.app)
    text = await export_customer(store, cid, fmt, shape=lambda data: api_shape(data, tz))
    await _audit(request, [cid], "export")
    return web.Response(text=text, content_type="application/json" if fmt == "json" else "application/xml")


async def customer_access(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    return json_reply(request, {"customer_id": cid, "access": await audit.access_log(store, cid, limit=_int(request, "limit", 500))})


# --------------------------------------------------------------------------- create and edit
_TEXT = {"type": "string", "nullable": True, "maxLength": 2000}
_LIST = {"description": "a list, or text separated by ';'"}
CUSTOMER_BODY = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 200}, "account_number": _TEXT, "phones": _LIST, "emails": _LIST,
    "segment": _TEXT, "vip": {"type": "boolean"}, "language": _TEXT, "owner_agent": _TEXT, "notes": _TEXT,
    "pin": {"type": "string", "maxLength": 8, "description": "kept only as a salted hash"},
    "dob": {"type": "string", "maxLength": 10, "description": "YYYY-MM-DD; kept only as a salted hash, used to find duplicates"},
    "memorable_date": {"type": "string", "maxLength": 10},
    "reason": {"type": "string", "maxLength": 120, "description": "why (a call or task id); default: your current call"}}}


def _split(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    values = dict(body)
    return values, values.pop("reason", None)


async def customer_create(request: web.Request) -> web.Response:
    cases = request.app[CUSTOMERS]
    values, reason = _split(await _json_body(request, CUSTOMER_BODY))
    result = await customers_edit.create(cases.store, cases.rules(), values, by=_user(request).id,
                                         reason=_reason(request, reason))
    return json_reply(request, result.to_dict(), status=201)


async def customer_edit(request: web.Request) -> web.Response:
    cases, cid = request.app[CUSTOMERS], request.match_info["customer_id"]
    values, reason = _split(await _json_body(request, CUSTOMER_BODY))
    result = await customers_edit.edit(cases.store, cases.rules(), cid, values, by=_user(request).id,
                                       reason=_reason(request, reason))
    await _audit(request, [cid], "edit", _reason(request, reason))
    return json_reply(request, result.to_dict())


POINT_BODY = {"type": "object", "required": ["kind", "value"], "properties": {
    "kind": {"type": "string", "enum": ["phone", "email"]}, "value": {"type": "string", "maxLength": 254},
    "preferred": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 120}}}


async def contact_point_add(request: web.Request) -> web.Response:
    cases, cid = request.app[CUSTOMERS], request.match_info["customer_id"]
    body = await _json_body(request, POINT_BODY)
    record = await customers_edit.add_contact(cases.store, cases.rules(), cid, body["kind"], body["value"],
                                              by=_user(request).id, preferred=bool(body.get("preferred")),
                                              reason=_reason(request, body.get("reason")))
    return json_reply(request, record, status=201)


async def contact_point_remove(request: web.Request) -> web.Response:
    cases, m = request.app[CUSTOMERS], request.match_info
    record = await customers_edit.remove_contact(cases.store, cases.rules(), m["customer_id"], m["kind"], m["value"],
                                                 by=_user(request).id, reason=_reason(request))
    return json_reply(request, record)


async def contact_point_prefer(request: web.Request) -> web.Response:
    cases, m = request.app[CUSTOMERS], request.match_info
    record = await customers_edit.set_preferred(cases.store, cases.rules(), m["customer_id"], m["kind"], m["value"],
                                                by=_user(request).id, reason=_reason(request))
    return json_reply(request, record)


# --------------------------------------------------------------------------- contacts other than calls
CONTACT_PROPS = {
    "channel": {"type": "string", "enum": list(contacts.CHANNELS)},
    "direction": {"type": "string", "enum": list(contacts.DIRECTIONS)},
    "at": {"description": "epoch seconds or ISO 8601; default now"},
    "subject": {"type": "string", "nullable": True, "maxLength": 200},
    "summary": {"type": "string", "nullable": True, "maxLength": 4000},
    "agent": {"type": "string", "nullable": True, "maxLength": 64},
    "link": {"type": "string", "nullable": True, "maxLength": 500}}
CONTACT_BODY = {"type": "object", "required": ["channel"], "properties": CONTACT_PROPS}
WEBHOOK_BODY = {"type": "object", "required": ["channel"], "properties": {
    **CONTACT_PROPS, "customer_id": {"type": "string", "maxLength": 64}, "account_number": {"type": "string", "maxLength": 64},
    "phone": {"type": "string", "maxLength": 40}, "email": {"type": "string", "maxLength": 254}}}


async def contact_log(request: web.Request) -> web.Response:
    cases, user, cid = request.app[CUSTOMERS], _user(request), request.match_info["customer_id"]
    body = await _json_body(request, CONTACT_BODY)
    if user.role < Role.SUPERVISOR and body.get("agent") not in (None, user.agent_id):
        raise Forbidden("an agent logs contacts as itself")
    if user.role < Role.SUPERVISOR:
        body["agent"] = user.agent_id
    return json_reply(request, await contacts.log_contact(cases.store, cid, cases.contact(body), source=user.id), status=201)


async def contact_list(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    await store.get_customer(cid)
    await _audit(request, [cid], "contacts")
    return json_reply(request, {"contacts": await contacts.contacts_of(store, cid, limit=_int(request, "limit", 100))})


_WEBHOOK_TOKENS = WebhookTokenCheck()


async def webhook_token_ok(stored_hash: str, request: web.Request) -> None:
    """The request's bearer token matches the configured hash: one scrypt at most (in a thread,
    within the sign-in guard's bounds, which also count failures per address), then remembered."""
    if not stored_hash:
        raise NotFound("the contacts webhook is off (customers.webhook_token_hash is empty)")
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.startswith("Bearer ") else ""
    if _WEBHOOK_TOKENS.cached(given, stored_hash):
        return
    guard, address = request.app[SIGNIN], request.remote or "?"
    guard.refuse_if_limited(address)
    ok = well_formed(given) and await guard.run_kdf(address, lambda: _WEBHOOK_TOKENS.verify(given, stored_hash))
    if not ok:
        guard.failed(address)
        raise Unauthorized("the webhook's token is required (Authorization: Bearer <token from acd customers webhook-token>)")


async def webhook_contact(request: web.Request) -> web.Response:
    """Another system logs a contact; it names the customer by id, account number, phone or e-mail."""
    cases = request.app[CUSTOMERS]
    await webhook_token_ok(cases.webhook_token_hash(), request)
    body = await _json_body(request, WEBHOOK_BODY)
    store = cases.store
    cid = body.pop("customer_id", None)
    account, phone, email = body.pop("account_number", None), body.pop("phone", None), body.pop("email", None)
    if not cid:
        cid = await _identify(store, account, phone, email)
    return json_reply(request, await contacts.log_contact(store, cid, cases.contact(body), source="webhook"), status=201)


async def _identify(store: SqlStore, account: str | None, phone: str | None, email: str | None) -> str:
    """The one customer the webhook names: by account number, else by phone (normalised, exact)
    or e-mail (exact, any case); several with it is a conflict, none is not found."""
    if account:
        found = await store.find_by_account(account)
        if found is None:
            raise NotFound(f"no customer with account number {account}")
        return str(found.customer_id)
    if phone or email:
        matches = await search.customers_with_contact(store, "phone" if phone else "email", phone or email or "")
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise Conflict(f"{len(matches)} customers have that {'phone' if phone else 'e-mail'}: give customer_id")
        raise NotFound("no customer with that phone or e-mail")
    raise Invalid("customer_id", "give customer_id, account_number, phone or email")


# --------------------------------------------------------------------------- the agent's own call
LINK_CALL_BODY = {"type": "object", "required": ["customer_id"], "properties": {"customer_id": {"type": "string", "maxLength": 64}}}


async def agent_link_call(request: web.Request) -> web.Response:
    """File the agent's current (or wrap-up) call under a customer: the record follows through the
    call's timeline (a ``linked`` event), and the screen-pop shows the customer at once."""
    body = await _json_body(request, LINK_CALL_BODY)
    return json_reply(request, await request.app[CUSTOMERS].link_agent_call(request.match_info["agent_id"], body["customer_id"], _user(request)))


# --------------------------------------------------------------------------- duplicates, merge, quality
async def customer_duplicates(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    c = await store.get_customer(cid)
    return json_reply(request, {"duplicates": await candidates_for(store, name=c["name"], phones=c["phones"], emails=c["emails"], exclude=cid)})


MERGE_BODY = {"type": "object", "required": ["merged_id"], "properties": {
    "merged_id": {"type": "string", "maxLength": 64, "description": "the duplicate, merged into this customer"}}}


async def customer_merge(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    body = await _json_body(request, MERGE_BODY)
    return json_reply(request, await merge.merge_customers(store, cid, body["merged_id"], by=_user(request).id))


async def merge_undo(request: web.Request) -> web.Response:
    store = request.app[CUSTOMERS].store
    return json_reply(request, await merge.undo_merge(store, request.match_info["merge_id"], by=_user(request).id))


async def customer_merges(request: web.Request) -> web.Response:
    store, cid = request.app[CUSTOMERS].store, request.match_info["customer_id"]
    return json_reply(request, {"merges": await merge.merges_of(store, cid)})


async def customers_quality(request: web.Request) -> web.Response:
    return json_reply(request, await request.app[CUSTOMERS].quality_report())


# --------------------------------------------------------------------------- erasure
ERASE_BODY = {"type": "object", "required": ["reason"], "properties": {
    "reason": {"type": "string", "maxLength": 200, "description": "the request being honoured (kept in the audit entry)"}}}


async def customer_erase(request: web.Request) -> web.Response:
    body = await _json_body(request, ERASE_BODY)
    return json_reply(request, await request.app[CUSTOMERS].erase(request.match_info["customer_id"], _user(request), body["reason"]))


CUSTOMER = "/api/v1/customers/{customer_id}"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/customers", customer_search, ANY,
          "Search customers by name, phone (any format), e-mail or account number, a page at a time (every customer found is "
          "in the access audit)", query=("q", "page", "per_page", "reason"), tag="customers"),
    Route("POST", "/api/v1/customers", customer_create, ANY,
          "Create a customer (same rules as the import); duplicate candidates come back as a warning", body=CUSTOMER_BODY, tag="customers"),
    Route("GET", CUSTOMER, customer_get, ANY, "A customer's record (the read is in the access audit)", query=("reason",), tag="customers"),
    Route("PATCH", CUSTOMER, customer_edit, ANY,
          "Edit a customer's fields (old values kept with who, when and why); duplicate candidates come back as a warning",
          body=CUSTOMER_BODY, tag="customers"),
    Route("GET", CUSTOMER + "/revisions", customer_revisions, ANY, "A customer's change history", query=("reason",), tag="customers"),
    Route("GET", CUSTOMER + "/timeline", customer_timeline, SUPERVISOR,
          "A customer's full history: calls with their timeline, other contacts, revisions, and every touchpoint in one list",
          query=("reason",), tag="customers"),
    Route("GET", CUSTOMER + "/export", customer_export, SUPERVISOR, "The customer's export, JSON or XML (audited)",
          query=("format", "reason"), tag="customers"),
    Route("GET", CUSTOMER + "/access", customer_access, SUPERVISOR, "Who read this customer's record, when and why",
          query=("limit",), tag="customers"),
    Route("POST", CUSTOMER + "/contact-points", contact_point_add, ANY, "Add a phone or e-mail (optionally preferred)",
          body=POINT_BODY, tag="customers"),
    Route("DELETE", CUSTOMER + "/contact-points/{kind}/{value}", contact_point_remove, ANY, "Remove a phone or e-mail",
          tag="customers"),
    Route("PUT", CUSTOMER + "/contact-points/{kind}/{value}/preferred", contact_point_prefer, ANY,
          "Mark a phone or e-mail as the preferred one of its kind", tag="customers"),
    Route("POST", CUSTOMER + "/contacts", contact_log, ANY,
          "Log a contact other than a call (email, sms, chat, web_form, letter, in_person)", body=CONTACT_BODY, tag="customers"),
    Route("GET", CUSTOMER + "/contacts", contact_list, ANY, "A customer's contacts other than calls, newest first",
          query=("limit", "reason"), tag="customers"),
    Route("GET", CUSTOMER + "/duplicates", customer_duplicates, SUPERVISOR, "Duplicate candidates of this customer", tag="customers"),
    Route("POST", CUSTOMER + "/merge", customer_merge, SUPERVISOR,
          "Merge a duplicate into this customer (nothing is lost; undo with /merges/{merge_id}/undo)", body=MERGE_BODY, tag="customers"),
    Route("GET", CUSTOMER + "/merges", customer_merges, SUPERVISOR, "Merges this customer took part in", tag="customers"),
    Route("POST", "/api/v1/merges/{merge_id}/undo", merge_undo, SUPERVISOR, "Undo a merge: both records as they were", tag="customers"),
    Route("GET", "/api/v1/quality/customers", customers_quality, SUPERVISOR,
          "Data-quality report: duplicate candidates, missing contacts, invalid numbers, stale records", tag="customers"),
    Route("POST", CUSTOMER + "/erase", customer_erase, ADMIN,
          "Erase the person's data everywhere on request (anonymous figures stay; audited)", body=ERASE_BODY, tag="admin"),
    Route("POST", "/api/v1/agents/{agent_id}/link", agent_link_call, SELF_OR_SUPERVISOR,
          "File the agent's current or wrap-up call under a customer", body=LINK_CALL_BODY, tag="agents"),
    Route("POST", "/api/v1/webhooks/contacts", webhook_contact, WEBHOOK,
          "Another system logs a contact (bearer: the token whose hash is customers.webhook_token_hash); the customer by id, account, phone or e-mail",
          body=WEBHOOK_BODY, tag="customers"),
)
register_routes(ROUTES)
