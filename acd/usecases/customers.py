"""Customers' use cases beside the store's own (``acd.store.*``): the rules a record is checked
against, the call an agent is on (the audit's default reason), filing the agent's own call under
a customer, unlocking verification, the data-quality report and erasure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from acd import events
from acd.clock import Clock
from acd.http.users import User
from acd.logs import get_logger
from acd.routing.model import AgentState
from acd.service.acd import AcdService
from acd.service.calllog import MemoryCallLog
from acd.settings import CustomersSection
from acd.store import audit, customers_edit, erasure, quality
from acd.store.contacts import ContactInput
from acd.store.durable import DurableRecorder
from acd.store.sql import SqlStore
from acd.store.validation import CustomerRules
from acd.store.verification import SqlVerification
from acd.usecases.errors import Refused
from acd.deadline import within

log = get_logger(__name__)

DRAIN_S = 10.0  # an erasure first waits this long for spooled call events to reach the database


class Customers:
    def __init__(self, store: SqlStore, acd: AcdService, calllog: MemoryCallLog, records: DurableRecorder, clock: Clock,
                 settings: CustomersSection, *, phone_region: str, spool_dir: str,
                 webhook_token_hash: Callable[[], str]) -> None:
        self.store = store  # the store's own use cases (acd.store.*) take it
        self._acd = acd  # its core is read at each call: a reload may replace it
        self._calllog = calllog
        self._records = records
        self._clock = clock
        self.settings = settings
        self._phone_region = phone_region
        self._spool_dir = spool_dir
        # read at each request: a config reload may replace it (acd.service.liveconfig)
        self.webhook_token_hash = webhook_token_hash

    def rules(self) -> CustomerRules:
        """The configured rules: the store's phone region, the languages list, the agents in config."""
        langs = self.settings.languages
        return CustomerRules(region=self._phone_region, languages=frozenset(langs) if langs else None,
                             agents=frozenset(self._acd.core.agents))

    def contact(self, body: dict[str, Any]) -> ContactInput:
        """A contact other than a call, checked (its time defaults to now)."""
        return ContactInput.parse(body, now=self._clock.now(), agents=frozenset(self._acd.core.agents))

    def current_call(self, agent_id: str | None) -> str | None:
        """The call the agent is on, being offered, or wrapping up."""
        core = self._acd.core
        if not agent_id or agent_id not in core.agents:
            return None
        return core.agent(agent_id).call_id or self._acd.wrapup_call(agent_id)

    def _linkable_call(self, agent_id: str) -> str | None:
        """The agent's own call it may file under a customer: connected now, or in wrap-up."""
        agent = self._acd.core.agent(agent_id)
        if agent.state == AgentState.ON_CALL:
            return agent.call_id
        if agent.state == AgentState.WRAP_UP:
            return self._acd.wrapup_call(agent_id)
        return None

    async def link_agent_call(self, agent_id: str, customer_id: str, user: User) -> dict[str, Any]:
        """File the agent's current (or wrap-up) call under a customer: the record follows through
        the call's timeline (a ``linked`` event), and the screen-pop shows the customer at once."""
        call_id = self._linkable_call(agent_id)
        if call_id is None:
            raise Refused(f"agent {agent_id} has no current or wrap-up call to link")
        customer = await self.store.get_customer(customer_id)
        if customer.get("merged_into") or customer.get("anonymised"):
            raise Refused(f"customer {customer_id} is merged or anonymised")
        self._calllog.event(call_id, events.Linked(customer_id=customer_id, by=user.id))
        acd = self._acd
        entry = acd.connected_entries.get(call_id) or acd.wrapup_entry(agent_id) or acd.core.calls.get(call_id)
        if entry is not None and entry.call_id == call_id:
            entry.customer_id = customer_id
        await customers_edit.note_link(self.store, customer_id, call_id, by=user.id)
        log.event("http.call_linked", agent=agent_id, call_id=call_id, customer_id=customer_id, by=user.id)
        return {"call_id": call_id, "customer_id": customer_id}

    async def unlock(self, customer_id: str, user: User) -> dict[str, Any]:
        """Lift a verification lock after checking the caller another way (audited)."""
        await self.store.get_customer(customer_id)
        await SqlVerification(self.store, self._clock).unlock(customer_id, by=user.id)
        return {"customer_id": customer_id, "unlocked": True}

    async def quality_report(self) -> dict[str, Any]:
        return (await quality.quality_report(self.store, stale_days=self.settings.stale_days)).to_dict()

    async def erase(self, customer_id: str, user: User, reason: str) -> dict[str, Any]:
        """Erase the person's data everywhere; the calls' spooled events first reach the database,
        to be erased there."""
        await self.store.get_customer(customer_id)
        with contextlib.suppress(asyncio.TimeoutError):
            await within(self._records.drain(), DRAIN_S)
        done = await erasure.erase_customer(self.store, customer_id, by=user.id, reason=reason, spool_dir=self._spool_dir)
        await audit.record_access(self.store, [customer_id], who=user.id, action="erase", reason=reason)
        return done
