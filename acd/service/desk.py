"""The agent's screen-pop: who is calling, how sure we are of it, what they did in the IVR and
what happened on their last calls, so that no agent has to ask again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from acd import events as rec
from acd.routing.model import AgentState, CallEntry
from acd.logs import get_logger
from acd.service.acd import AcdService
from acd.service.calllog import MemoryCallLog
from acd.store.audit import record_access
from acd.store.contacts import contacts_of
from acd.store.sql import NotFound, SqlStore
from acd.tasks.callbacks import CALL_PREFIX
from acd.deadline import within

log = get_logger(__name__)

RECENT_CONTACTS = 5
STORE_TIMEOUT_S = 5.0
# A section another feature adds to the screen-pop (tasks: open tasks, the last survey score):
# called with the call's entry and the customer's record (None when unknown); returns keys to add.
PopSection = Callable[[CallEntry, "dict[str, Any] | None"], Awaitable[dict[str, Any]]]


class AgentDesk:
    def __init__(self, acd: AcdService, customers: SqlStore | None, calllog: MemoryCallLog) -> None:
        self.acd = acd
        self.customers = customers
        self.calllog = calllog
        self.sections: list[PopSection] = []  # hook: other features' parts of the screen-pop
        self._audited: set[tuple[str, str, str]] = set()  # (viewer, call, customer) already in the access audit

    async def work(self, agent_id: str, viewer: str | None = None) -> dict[str, Any]:
        """``{"offer": Work | None, "call": Work | None}`` for the agent now; ``viewer`` (the user
        asking, default the agent) goes to the access audit, once per call and customer."""
        viewer = viewer or agent_id
        agent = self.acd.core.agent(agent_id)
        offer = call = None
        if agent.state in (AgentState.RESERVED, AgentState.RINGING) and agent.call_id:
            entry = self.acd.core.calls.get(agent.call_id)
            if entry is not None:
                offer = await self._work(entry, viewer)
        elif agent.state == AgentState.ON_CALL and agent.call_id:
            entry = self.acd.connected_entries.get(agent.call_id)
            if entry is not None:
                call = await self._work(entry, viewer)
        elif agent.state == AgentState.WRAP_UP:
            entry = self.acd.wrapup_entry(agent_id)
            if entry is not None:  # the same screen-pop, so a reloaded desktop still shows the call
                call = {**await self._work(entry, viewer), "wrap_up": True}
            elif (call_id := self.acd.wrapup_call(agent_id)) is not None:
                call = {"call_id": call_id, "wrap_up": True}
        return {"offer": offer, "call": call}

    def customer_of(self, agent_id: str) -> str | None:
        """The customer whose call this agent is being offered or is talking to, if any."""
        agent = self.acd.core.agent(agent_id)
        entry = self.acd.core.calls.get(agent.call_id or "") or self.acd.connected_entries.get(agent.call_id or "")
        return entry.customer_id if entry else None

    async def _work(self, entry: CallEntry, viewer: str) -> dict[str, Any]:
        now = self.acd.clock.now()
        customer = last = recent = None
        if entry.customer_id and self.customers is not None:
            try:
                customer = await self.customers.get_customer(entry.customer_id)
                last = [i.to_dict() for i in await self.customers.search_interactions(customer_id=entry.customer_id, limit=6)
                        if i.call_id != entry.call_id][:5]
                recent = one_timeline(last, await contacts_of(self.customers, entry.customer_id, limit=RECENT_CONTACTS))
                await self._audit(self.customers, entry, entry.customer_id, viewer)
            except NotFound:
                customer = None
            except Exception as exc:  # noqa: BLE001 - the store is down: the pop still shows the call
                log.warn_event("desk.customer_unavailable", error=type(exc).__name__)
        timeline = await self._ivr_timeline(entry.call_id)
        path = [{"step": e.step, "action": e.action, "outcome": e.outcome} for e in timeline if isinstance(e, rec.FlowStep)]
        verified = [e.method for e in timeline if isinstance(e, rec.Verification) and e.outcome == "ok" and e.method]
        pop = {
            "call_id": entry.call_id, "queue": entry.queue, "ani": entry.caller_number or None,
            "waited_s": round(now - entry.enqueued_at, 1), "customer": customer,
            "verification": {"level": entry.verification, "method": verified[-1] if verified else _method(path), "locked": entry.locked},
            "ivr_path": path, "last_interactions": last or [],
            "notes": [customer["notes"]] if customer and customer.get("notes") else [],
            "attributes": {k: v for k, v in entry.attributes.items() if isinstance(v, (str, int, float, bool))},
            "vip": entry.vip, "recent_contacts": recent or [],
        }
        for section in self.sections:
            try:
                pop.update(await within(section(entry, customer), 5))
            except Exception as exc:  # noqa: BLE001 - one part failing leaves the rest of the pop
                log.warn_event("desk.section_failed", section=getattr(section, "__name__", "?"), error=type(exc).__name__)
        return pop

    async def _ivr_timeline(self, call_id: str) -> list[rec.CallEvent]:
        """The call's timeline as this node holds it, or, when the caller's IVR ran on another
        engine node (which recorded it), as the shared store holds it by now."""
        timeline = [rec.from_timeline(e) for e in self.calllog.timeline(call_id)]
        if self.customers is None or any(isinstance(e, rec.FlowStarted) for e in timeline):
            return timeline
        try:
            stored = await within(self.customers.timeline(call_id), STORE_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            log.warn_event("desk.timeline_unavailable", error=type(exc).__name__)
            return timeline
        return [rec.from_timeline(e) for e in stored] if stored else timeline

    async def _audit(self, customers: SqlStore, entry: CallEntry, customer_id: str, viewer: str) -> None:
        key = (viewer, entry.call_id, customer_id)
        if key in self._audited:
            return
        if len(self._audited) > 10_000:
            self._audited.clear()
        self._audited.add(key)
        await record_access(customers, [customer_id], who=viewer, action="screen_pop", reason=f"call {entry.call_id}")


def one_timeline(calls: list[dict[str, Any]], contacts: list[dict[str, Any]], limit: int = RECENT_CONTACTS) -> list[dict[str, Any]]:
    """The screen-pop's recent contacts: the customer's earlier calls and their contacts on every
    other channel in one list, newest first, ``limit`` of them. A call reads like a contact
    (``channel: call``; outbound when it was a booked call-back, ``cb-...``), with its call id,
    outcome and disposition."""
    points = [{"at": c.get("started_at"), "channel": "call", "direction": "outbound" if c["call_id"].startswith(CALL_PREFIX) else "inbound",
               "subject": c.get("disposition") or c.get("outcome"), "summary": c.get("notes"), "agent": c.get("agent"),
               "call_id": c["call_id"], "outcome": c.get("outcome")} for c in calls]
    points += contacts
    return sorted(points, key=lambda p: p.get("at") or 0.0, reverse=True)[:limit]


def _method(path: list[dict[str, Any]]) -> str | None:
    """How the caller proved who they are, from the IVR path (the last verification step passed)."""
    method = None
    for step in path:
        if step["action"] in ("verify_pin", "verify_date") and step["outcome"] == "ok":
            method = "pin" if step["action"] == "verify_pin" else "date"
        elif step["action"] == "lookup_caller" and step["outcome"] == "found" and method is None:
            method = "caller_id"
    return method
