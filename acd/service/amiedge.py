"""AMI in: headers become typed core inputs here, once, and only for channels the ACD knows.

Also the re-sync on every AMI (re)connect: CoreShowChannels, BridgeList, Status (ACD_CALLER of
agent legs in a bridge) and DeviceStateList become ``AgentBridged``, ``DeviceStateChanged`` and
``ChannelsPresent`` inputs; the core decides what to repair. Ringing agent legs no offer of the
core owns (a killed engine's) are hung up first (``acd.service.orphans``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from collections.abc import Callable

from acd.ami import AmiError, Event
from acd.ami.actions import bridge_list, core_show_channels, device_state_list, status
from acd.logs import get_logger
from acd.routing import inputs as ev
from acd.routing.model import Agent
from acd.service.orphans import OrphanLegs

if TYPE_CHECKING:
    from acd.service.acd import AcdService

log = get_logger(__name__)


class AmiEdge:
    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self._unsubscribe: list[Callable[[], None]] = []
        self._heard_at: float | None = None  # engine time of the last AMI frame while the link was up
        self._lost_at: float | None = None
        #: run after each re-sync with the uniqueids Asterisk has and its CoreShowChannel events
        #: (``acd.service.reconcile``: the record's open calls are closed there)
        self.resync_hooks: list[Callable[[frozenset[str], list[Event]], None]] = []
        self.orphans = OrphanLegs(acd)

    def subscribe(self) -> None:
        ami = self.acd.ami
        for name, handler in (
            ("BridgeEnter", self._on_bridge_enter), ("OriginateResponse", self._on_originate_response),
            ("Hangup", self._on_hangup), ("HangupRequest", self._on_hangup_request), ("SoftHangupRequest", self._on_hangup_request),
            ("Newchannel", self._on_newchannel), ("DeviceStateChange", self._on_device_state),
            ("Hold", self._on_hold), ("Unhold", self._on_unhold),
        ):
            self._unsubscribe.append(ami.subscribe(name, handler))
        unlink = ami.on_link(self._on_link)
        if callable(unlink):
            self._unsubscribe.append(unlink)

    def unsubscribe(self) -> None:
        for unsub in self._unsubscribe:
            unsub()
        self._unsubscribe.clear()

    def _now(self) -> float:
        return self.acd.now()

    def _agent_of_channel(self, channel: str) -> Agent | None:
        for agent in self.acd.core.agents.values():
            if channel.startswith(agent.config.endpoint + "-"):
                return agent
        return None

    # ------------------------------------------------------------------ live events
    def _on_newchannel(self, event: Event) -> None:
        uid = event.get("Uniqueid", "")
        if uid in self.acd.core.offers:
            self.acd.submit(ev.LegRinging(self._now(), uid))

    def _on_bridge_enter(self, event: Event) -> None:
        core, uid = self.acd.core, event.get("Uniqueid", "")
        offer = core.offers.get(uid)
        if offer is not None:  # an agent leg: for a callback, it enters the bridge with the customer
            entry = core.calls.get(offer.call_id)
            if entry is not None and entry.callback_number:
                self.acd.submit(ev.CallerBridged(self._now(), offer.call_id, "", offer_id=uid))
            return
        if uid in core.calls:
            self.acd.submit(ev.CallerBridged(self._now(), uid, event.get("Channel", "")))

    def _on_originate_response(self, event: Event) -> None:
        if event.get("Response") != "Failure":
            return
        uid = event.get("Uniqueid", "")
        if uid in self.acd.core.offers:
            self.acd.submit(ev.OfferFailed(self._now(), uid, ev.FailCause.from_originate_reason(event.get("Reason", ""))))

    def _on_hangup_request(self, event: Event) -> None:
        """The caller hung up: Asterisk says so at once, long before it sends ``Hangup`` (which
        waits for the FastAGI session to close). A bridged-away caller gets no such request."""
        uid = event.get("Uniqueid", "")
        entry = self.acd.core.calls.get(uid)
        if entry is not None and not entry.callback_number:
            self.acd.submit(ev.CallerLeft(self._now(), uid, "abandoned"))

    def _on_hangup(self, event: Event) -> None:
        core, uid = self.acd.core, event.get("Uniqueid", "")
        entry = core.calls.get(uid)
        if entry is not None:
            if not entry.callback_number:  # a caller who hung up for a callback keeps the place
                self.acd.submit(ev.CallerLeft(self._now(), uid, "abandoned"))
            return
        if uid in core.offers:
            self.acd.submit(ev.LegHungUp(self._now(), uid))
            return
        if uid in core.connected:
            self.acd.submit(ev.CallHungUp(self._now(), uid, by="caller"))
            return
        call_id = self._connected_call_of(event)
        if call_id is not None:  # the agent leg of a connected call (or a callback's customer) hung up
            live = core.live[call_id]
            self.acd.submit(ev.CallHungUp(self._now(), call_id, by="customer" if live.entry.callback_number and uid != live.offer_id else "agent"))

    def _connected_call_of(self, event: Event) -> str | None:
        """The connected call a channel event is about: the caller's, its agent's leg, or (for a
        callback) the agent leg by its offer id."""
        core, uid = self.acd.core, event.get("Uniqueid", "")
        if uid in core.connected:
            return uid
        for call_id, live in core.live.items():
            if live.ended_at is None and live.offer_id and live.offer_id == uid:
                return call_id
        agent = self._agent_of_channel(event.get("Channel", ""))
        if agent is not None and agent.call_id in core.connected:
            return agent.call_id
        return None

    def _on_hold(self, event: Event) -> None:
        call_id = self._connected_call_of(event)
        if call_id is not None:
            self.acd.submit(ev.HoldChanged(self._now(), call_id, True))

    def _on_unhold(self, event: Event) -> None:
        call_id = self._connected_call_of(event)
        if call_id is not None:
            self.acd.submit(ev.HoldChanged(self._now(), call_id, False))

    def _on_device_state(self, event: Event) -> None:
        device = event.get("Device", "")
        if any(a.config.endpoint == device for a in self.acd.core.agents.values()):
            self.acd.submit(ev.DeviceStateChanged(self._now(), device, event.get("State", "")))

    # ------------------------------------------------------------------ the link and the re-sync
    async def _on_link(self, up: bool) -> None:
        acd = self.acd
        acd.telemetry.ami_link(up)
        if not up:
            heard = getattr(acd.ami, "last_heard", None)
            # the calls were last known alive when Asterisk last spoke to us
            self._lost_at = acd.now() - (asyncio.get_running_loop().time() - heard) if heard is not None else acd.now()
            return
        if acd.ami.reconnects:
            acd.telemetry.ami_reconnect()
        await self.resync()

    async def resync(self) -> int:
        """Compare the live state with Asterisk and let the core repair what differs; each
        repair is counted by kind (``acd_state_repairs_total``)."""
        acd, core = self.acd, self.acd.core
        known = frozenset(core.offers) | frozenset(core.calls) | frozenset(core.connected)  # what the listing can judge
        try:
            listing = await core_show_channels(acd.ami)
            bridges = await bridge_list(acd.ami)
            devices = await device_state_list(acd.ami)
        except AmiError as exc:
            log.warn_event("acd.resync.failed", error=str(exc))
            return 0
        repairs_before = _repairs(acd)
        swept = set(await self.orphans.sweep(listing.events))  # a dead engine's ringing legs: hung up at once
        # the device list was read while those legs rang (BUSY with device_state_busy_at): their
        # agents' entries are stale, and the DeviceStateChange their hangup caused may already be
        # in; judging them from the list would pause a free agent as busy for good
        stale = {owner.config.endpoint for ch in listing.events if ch.get("Uniqueid") in swept
                 and (owner := self._agent_of_channel(ch.get("Channel", ""))) is not None}
        bridge_ids = {e.get("BridgeUniqueid", "") for e in bridges.events}
        for agent, caller, channel in await self._bridged_agents(listing.events, bridge_ids):
            acd.submit(ev.AgentBridged(self._now(), agent, caller, channel))
        for d in devices.events:
            device = d.get("Device", "")
            if device not in stale and any(a.config.endpoint == device for a in core.agents.values()):
                acd.submit(ev.DeviceStateChanged(self._now(), device, d.get("State", ""), resync=True))
        present = frozenset(e.get("Uniqueid", "") for e in listing.events)
        lost_at = self._lost_at
        seen = tuple((cid, lost_at) for cid in core.connected) if lost_at is not None else ()
        acd.submit(ev.ChannelsPresent(self._now(), present, seen, known=known))
        self._lost_at = None
        for hook in list(self.resync_hooks):
            hook(present, listing.events)
        repairs = _repairs(acd) - repairs_before
        log.event("acd.resync.done", channels=len(present), bridges=len(bridges.events), repairs=repairs)
        return repairs

    async def _bridged_agents(self, channels: list[Event], bridge_ids: set[str]) -> list[tuple[str, str, str]]:
        """Agent legs in a live bridge whose agent the engine holds free or ringing: the leg's
        ``ACD_CALLER`` (read with Status) names the caller."""
        from acd.routing.model import AgentState as S

        out = []
        for ch in channels:
            bridge = ch.get("BridgeId", "")
            if not bridge or bridge not in bridge_ids:
                continue
            agent = self._agent_of_channel(ch.get("Channel", ""))
            if agent is None or agent.state not in (S.READY, S.NOT_READY, S.RESERVED, S.RINGING):
                continue  # on a call or in wrap-up: the engine knows
            try:
                detail = await status(self.acd.ami, ch.get("Channel", ""), ["ACD_CALLER"])
                caller = next((v.split("=", 1)[1] for e in detail.events for v in e.headers.get_all("Variable") if v.startswith("ACD_CALLER=")), "")
            except AmiError as exc:
                log.warn_event("acd.resync.status_failed", channel=ch.get("Channel"), error=str(exc))
                continue
            if caller:
                caller_channel = next((c.get("Channel", "") for c in channels if c.get("Uniqueid") == caller), caller)
                out.append((agent.id, caller, caller_channel))
        return out


def _repairs(acd: AcdService) -> int:
    return acd.observer.repairs
