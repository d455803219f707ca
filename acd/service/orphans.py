"""No agent leg left ringing by an engine that is gone (issue #12.2).

An engine killed while an agent's phone rang leaves the leg it originated ringing until the
Originate's ``Timeout`` (measured on Asterisk 22: 13 s after the kill, the new engine up after
4 s). On every re-sync (engine start, each AMI (re)connect, a takeover) the legs this engine's
core does not own are hung up at once.

How a leg is known to be the engine's (as Asterisk 22 reports it, observed/*.jsonl and
connect/FINDINGS.md §8): while it rings, ``CoreShowChannel`` shows it on the agent's endpoint
(``PJSIP/agent1-0000000f``), not ``Up`` (``ChannelState`` 5), in no bridge, in the endpoint's own
context running ``AppDial2``, with ``Uniqueid`` = the Originate's ``ChannelId`` (the offer id).
The listing does not show channel variables; ``Status`` on the channel does: the engine sets
``ACD_OFFER`` (= the ``ChannelId``) and ``ACD_CALLER`` on every leg it originates. A leg is the
engine's when its ``ACD_OFFER`` is set and is its own uniqueid.

A leg the core owns (an offer it holds, or the offer of a call it has connected) is kept: after
a takeover the replicated core goes on with it. Any other is hung up, its reservation released,
and its offer ended on the caller's record (``OfferCancelled``, reason ``engine_lost_call``)
unless this process already recorded how it ended. The agent is not blamed: the core never held
that offer, so nothing ends it against the agent (no RONA, no pause), and a phone that rings
(device state ``RINGING``) does not pause a ready agent at the re-sync.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from acd import events as rec
from acd.ami import AmiError, Event
from acd.ami.actions import hangup, status
from acd.logs import get_logger

if TYPE_CHECKING:
    from acd.routing.model import Agent
    from acd.service.acd import AcdService

log = get_logger(__name__)

LOST = "engine_lost_call"  # the outcome vocabulary of acd.events.CallClosed / records.Outcome
UP = "6"  # ChannelState of an answered channel
KEEP = 1000  # how many leg ids ``kept`` and ``hung_up`` remember


class OrphanLegs:
    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self.kept: deque[str] = deque(maxlen=KEEP)  # the engine's legs seen and kept (the core owns them)
        self.hung_up: deque[str] = deque(maxlen=KEEP)  # legs hung up here (the tests and the log read them)

    async def sweep(self, channels: list[Event]) -> list[str]:
        """Hang up the engine's ringing agent legs (in a ``CoreShowChannels`` listing) that the
        core does not own. Returns their uniqueids."""
        if not self.acd.may_act():
            return []
        swept: list[str] = []
        for ch in channels:
            agent = self._ringing_agent_leg(ch)
            if agent is None:
                continue
            uid = ch.get("Uniqueid", "") or ""
            if self._owned(uid):
                self.kept.append(uid)
                continue
            call_id = await self._engine_leg_caller(ch)
            if call_id is None:
                continue  # not a leg the engine originated (no ACD_OFFER), or already gone
            if self._owned(uid):  # taken up while Status was in flight
                self.kept.append(uid)
                continue
            if await self._hang_up(uid, agent, call_id):
                swept.append(uid)
        return swept

    def _ringing_agent_leg(self, ch: Event) -> Agent | None:
        """The agent of an unanswered, unbridged channel on an agent's endpoint."""
        if ch.get("BridgeId") or ch.get("ChannelState") == UP or not ch.get("Uniqueid"):
            return None
        return self.acd.edge._agent_of_channel(ch.get("Channel", "") or "")

    def _owned(self, uid: str) -> bool:
        core = self.acd.core
        return uid in core.offers or any(live.offer_id == uid for live in core.live.values())

    async def _engine_leg_caller(self, ch: Event) -> str | None:
        """The leg's ``ACD_CALLER`` if it is a leg the engine originated (``ACD_OFFER`` is its
        uniqueid), else None."""
        uid = ch.get("Uniqueid", "") or ""
        try:
            detail = await status(self.acd.ami, ch.get("Channel", "") or uid, ["ACD_OFFER", "ACD_CALLER"])
        except AmiError as exc:
            log.warn_event("acd.orphan.status_failed", channel=ch.get("Channel"), error=str(exc))
            return None
        found = {}
        for e in detail.events:
            for v in e.headers.get_all("Variable"):
                name, _, value = v.partition("=")
                found[name] = value
        if found.get("ACD_OFFER") != uid:
            return None
        caller = found.get("ACD_CALLER", "")
        return "" if caller in ("", "(null)") else caller

    async def _hang_up(self, uid: str, agent: Agent, call_id: str) -> bool:
        acd = self.acd
        try:
            reply = await hangup(acd.ami, uid, cause=16)
        except AmiError as exc:
            log.warn_event("acd.orphan.hangup_failed", offer=uid, agent=agent.id, error=str(exc))
            return False
        if not reply.ok:  # gone meanwhile (answered and hung up, its Originate timed out): nothing to end
            log.event("acd.orphan.gone", offer=uid, agent=agent.id)
            return False
        self.hung_up.append(uid)
        token = acd.token
        acd.legs.store_op(lambda: acd.store.release(agent.id, uid, token=token), "release")  # the dead engine's reservation
        acd.telemetry.state_repair("orphan_leg")
        acd.telemetry.agent_offer("cancelled")
        if call_id and not self._offer_ended_here(call_id, uid):
            acd.recorder.event(call_id, rec.OfferCancelled(agent=agent.id, offer=uid, reason=LOST))
        log.warn_event("acd.orphan.hung_up", offer=uid, agent=agent.id, call_id=call_id or None)
        return True

    def _offer_ended_here(self, call_id: str, offer_id: str) -> bool:
        """This process recorded the offer's end (cancelled while AMI was down, say)."""
        timeline = getattr(self.acd.recorder, "timeline", None)
        if timeline is None:
            return False
        ends = (rec.OfferCancelled.kind, rec.OfferFailed.kind)
        return any(e.get("kind") in ends and e.get("offer") == offer_id for e in timeline(call_id))
