"""SimPbx: the simulated Asterisk. Channels, bridges, the agreed dialplan contexts, AMI actions.

Dialplan modelled (see docker/asterisk/extensions.conf):
- ``acd-inbound``: Answer, then ``AGI(agi://engine/ivr)``; if the session ends without a
  bridge, ``acd-fallback`` runs (recorded as ``CallOutcome.fallback``), then Hangup.
- ``acd-connect``: the agent leg, after answer, runs ``AGI(agi://engine/claim)``; if the engine
  set ``ACD_CLAIM=ok`` it runs ``Bridge(${ACD_CALLER},x)``, else hangs up.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Callable

from acd.ami.frames import Action
from acd.logs import get_logger
from acd.sim.agi_caller import AgiCallRunner
from acd.sim.ami_server import AmiSession, SimAmiServer
from acd.sim.channels import HANGUP_CAUSES, SimBridge, SimChannel
from acd.sim.model import AgentBehaviour, CallerScript, CallOutcome, ChannelState

log = get_logger(__name__)


class CallHandle:
    def __init__(self, pbx: "SimPbx", channel: SimChannel, script: CallerScript, outcome: CallOutcome) -> None:
        self.pbx = pbx
        self.channel = channel
        self.script = script
        self.outcome = outcome
        self.done = asyncio.Event()
        self.task: asyncio.Task | None = None

    @property
    def uniqueid(self) -> str:
        return self.channel.uniqueid

    async def finished(self, timeout: float = 30.0) -> CallOutcome:
        await asyncio.wait_for(self.done.wait(), timeout)
        return self.outcome

    def hangup(self) -> None:
        """The caller hangs up now."""
        self.pbx.hangup_channel(self.channel, cause=16, by="caller")


class SimPbx:
    def __init__(
        self,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        *,
        ami_host: str = "127.0.0.1",
        ami_port: int = 0,
        users: dict[str, str] | None = None,
        agents: dict[str, AgentBehaviour] | None = None,
        time_scale: float = 1.0,
        sound_seconds: Callable[[str], float] | None = None,
    ) -> None:
        self.agi_host, self.agi_port = agi_host, agi_port
        self.time_scale = time_scale
        self.ami = SimAmiServer(self, ami_host, ami_port, users or {"acd": "acdsecret"})
        self.agents: dict[str, AgentBehaviour] = dict(agents or {})
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.calls: list[CallHandle] = []
        self.sound_seconds = sound_seconds or (lambda name: 1.0)
        self.processed_calls = 0
        self._started = time.monotonic()
        self._seq = itertools.count(1)
        self._chan_seq = itertools.count(0x5E)
        self._tasks: set[asyncio.Task] = set()
        self._base_epoch = int(time.time())
        self.agent_offers: dict[str, int] = {}  # endpoint -> how many times it was rung
        self.outcomes: list[CallOutcome] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def ami_port(self) -> int:
        return self.ami.port

    def uptime(self) -> float:
        return time.monotonic() - self._started

    async def start(self) -> None:
        await self.ami.start()
        log.event("sim.pbx.started", ami_port=self.ami_port, agi=f"{self.agi_host}:{self.agi_port}")

    async def stop(self) -> None:
        for ch in list(self.channels.values()):
            self.hangup_channel(ch, cause=16, by="pbx", quiet=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ami.stop()

    def spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) * self.time_scale)

    def now(self) -> float:
        return time.monotonic()

    # ------------------------------------------------------------------ helpers
    def _uniqueid(self) -> str:
        return f"{self._base_epoch}.{next(self._seq)}"

    def _new_channel(self, endpoint: str, *, uniqueid: str | None, caller_num: str, caller_name: str, context: str, exten: str, state: ChannelState) -> SimChannel:
        uid = uniqueid or self._uniqueid()
        ch = SimChannel(
            name=f"{endpoint}-{next(self._chan_seq):08x}", uniqueid=uid, linkedid=uid, caller_num=caller_num,
            caller_name=caller_name, context=context, exten=exten, state=state, created=self.now(),
        )
        self.channels[uid] = ch
        return ch

    def event(self, name: str, headers: list[tuple[str, str]], privilege: str = "call,all") -> None:
        self.ami.broadcast(name, [("Privilege", privilege)] + headers)

    def find_channel(self, ref: str) -> SimChannel | None:
        """By uniqueid, exact name, or name prefix (as Bridge() and Hangup resolve them)."""
        if ref in self.channels:
            return self.channels[ref]
        for ch in self.channels.values():
            if ch.name == ref:
                return ch
        for ch in self.channels.values():
            if ch.name.startswith(ref):
                return ch
        return None

    def set_state(self, ch: SimChannel, state: ChannelState) -> None:
        ch.state = state
        self.event("Newstate", ch.headers())

    def device_state(self, endpoint: str, state: str) -> None:
        self.event("DeviceStateChange", [("Device", endpoint), ("State", state)])

    # ------------------------------------------------------------------ inbound calls
    async def place_call(self, script: CallerScript, endpoint: str = "PJSIP/caller") -> CallHandle:
        ch = self._new_channel(endpoint, uniqueid=None, caller_num=script.caller_id, caller_name=script.caller_name, context="acd-inbound", exten=script.dnis, state=ChannelState.RING)
        ch.language = script.language
        outcome = CallOutcome(uniqueid=ch.uniqueid, channel=ch.name, caller_id=script.caller_id, started=self.now())
        handle = CallHandle(self, ch, script, outcome)
        self.calls.append(handle)
        self.processed_calls += 1
        self.event("Newchannel", ch.headers())
        handle.task = self.spawn(self._run_inbound(handle), f"sim-call-{ch.uniqueid}")
        return handle

    async def _run_inbound(self, handle: CallHandle) -> None:
        ch, script, outcome = handle.channel, handle.script, handle.outcome
        try:
            if script.hangup_after_s is not None:
                self.spawn(self._hangup_later(ch, script.hangup_after_s), f"sim-caller-hangup-{ch.uniqueid}")
            ch.priority = 2
            ch.answered = self.now()
            self.set_state(ch, ChannelState.UP)
            self.device_state(ch.endpoint, "INUSE")
            ch.priority = 3
            runner = AgiCallRunner(self, ch, "ivr", script=script, outcome=outcome)
            await runner.run()
            if ch.alive and ch.bridge is None and not ch.bridged_event.is_set():
                if runner.transferred_to:
                    outcome.transferred_to = runner.transferred_to
                    self.hangup_channel(ch, cause=16, by="pbx")
                elif not runner.hung_up_by_engine:
                    outcome.fallback = True  # acd-fallback: apologise and hand to a plain queue
                    ch.context, ch.exten, ch.priority = "acd-fallback", "s", 1
                    outcome.prompts.append("queue-periodic-announce")
                    await self.sleep(1.0)
                    self.hangup_channel(ch, cause=16, by="pbx")
                else:
                    self.hangup_channel(ch, cause=16, by="engine")
            await ch.hangup_event.wait()
        finally:
            outcome.ended = self.now()
            outcome.max_silence_s = max(outcome.max_silence_s, 0.0)
            self.outcomes.append(outcome)
            handle.done.set()

    async def _hangup_later(self, ch: SimChannel, after_s: float) -> None:
        await self.sleep(after_s)
        if ch.alive:
            self.hangup_channel(ch, cause=16, by="caller")

    # ------------------------------------------------------------------ hangups and bridges
    def hangup_channel(self, ch: SimChannel, cause: int = 16, by: str = "pbx", quiet: bool = False) -> None:
        if not ch.alive:
            return
        ch.alive = False
        outcome = self._outcome_of(ch)
        if outcome and outcome.hung_up_by is None:
            outcome.hung_up_by = by
        if ch.recording is not None:
            self._stop_recording(ch)
        bridge = ch.bridge
        if bridge is not None:
            if not quiet:
                self.event("HangupRequest", ch.headers())
            self._leave_bridge(ch, bridge)
        if not quiet:
            self.event("Hangup", ch.headers(exten="h" if ch.context == "acd-connect" else None) + [("Cause", str(cause)), ("Cause-txt", HANGUP_CAUSES.get(cause, "Unknown"))])
            self.device_state(ch.endpoint, "NOT_INUSE")
        self.channels.pop(ch.uniqueid, None)
        ch.hangup_event.set()
        # Bridge(...,x): when one side leaves, the other is hung up by the bridge too
        if bridge is not None:
            for other in list(bridge.channels):
                if other.alive:
                    other_out = self._outcome_of(other)
                    if other_out and other_out.hung_up_by is None:
                        other_out.hung_up_by = "agent" if other_out is not None and by == "agent" else by
                    self.hangup_channel(other, cause=cause, by=by, quiet=quiet)
            if not bridge.channels:
                self.bridges.pop(bridge.uniqueid, None)
                if not quiet:
                    self.event("BridgeDestroy", bridge.headers())

    def _leave_bridge(self, ch: SimChannel, bridge: SimBridge) -> None:
        if ch in bridge.channels:
            bridge.channels.remove(ch)
            bridge.technology = "native_rtp"
            self.event("BridgeLeave", bridge.headers() + ch.headers())
        ch.bridge = None

    def _outcome_of(self, ch: SimChannel) -> CallOutcome | None:
        for call in self.calls:
            if call.channel is ch:
                return call.outcome
        return None

    def bridge_with_caller(self, agent: SimChannel, caller_ref: str) -> str:
        """``Bridge(${ACD_CALLER},x)`` run on the agent leg. Returns BRIDGERESULT."""
        caller = self.find_channel(caller_ref)
        if caller is None or not caller.alive:
            return "NONEXISTENT"
        old = caller.bridge
        bridge = SimBridge()
        self.bridges[bridge.uniqueid] = bridge
        self.event("BridgeCreate", bridge.headers())
        if old is not None:  # a second Bridge() steals the caller (FINDINGS run g)
            self._leave_bridge(caller, old)
        if caller.in_moh:
            caller.in_moh = False
            self.event("MusicOnHoldStop", caller.headers())
        caller.bridged_event.set()  # the caller's pending AGI command gets result=-1, then HANGUP
        caller.application = ""
        for ch in (caller, agent):
            bridge.channels.append(ch)
            ch.bridge = bridge
            self.event("BridgeEnter", bridge.headers() + ch.headers())
        caller.connected_num, caller.connected_name = agent.caller_num, agent.caller_name
        outcome = self._outcome_of(caller)
        if outcome is not None:
            outcome.agent = agent.endpoint
            outcome.bridged_at = self.now()
            if old is not None:
                for other in list(old.channels):
                    self.hangup_channel(other, cause=16, by="pbx")
            handle = next(c for c in self.calls if c.channel is caller)
            if handle.script.hangup_after_bridge_s is not None:
                self.spawn(self._hangup_later(caller, handle.script.hangup_after_bridge_s), f"sim-caller-ends-{caller.uniqueid}")
        return "SUCCESS"

    # ------------------------------------------------------------------ agent legs
    async def ami_originate(self, s: AmiSession, a: Action) -> None:
        dial = a.get("Channel", "")
        tech, _, resource = dial.partition("/")
        endpoint = f"{tech}/{resource}"
        behaviour = self.agents.get(resource) or self.agents.get(endpoint)
        channel_id = a.get("ChannelId") or None
        if channel_id and channel_id in self.channels:
            s.respond(a, "Success", ("Message", "Originate successfully queued"))
            self._originate_response(a, "Failure", dial, 0, channel_id)
            return
        if not (a.get("Async", "false").lower() in ("true", "yes", "1")):
            s.respond(a, "Error", ("Message", "Originate failed"))
            return
        s.respond(a, "Success", ("Message", "Originate successfully queued"))
        self.spawn(self._agent_leg(a, endpoint, behaviour or AgentBehaviour(unreachable=True), channel_id), f"sim-originate-{channel_id or dial}")

    def _originate_response(self, a: Action, response: str, channel: str, reason: int, uniqueid: str, caller_num: str = "<unknown>", caller_name: str = "<unknown>") -> None:
        headers = [("Privilege", "call,all")]
        if a.action_id is not None:
            headers.append(("ActionID", a.action_id))
        headers += [("Response", response), ("Channel", channel), ("Context", a.get("Context", "")), ("Exten", a.get("Exten", "")), ("Reason", str(reason)), ("Uniqueid", uniqueid), ("CallerIDNum", caller_num), ("CallerIDName", caller_name)]
        self.ami.broadcast("OriginateResponse", headers)

    async def _agent_leg(self, a: Action, endpoint: str, behaviour: AgentBehaviour, channel_id: str | None) -> None:
        timeout_s = int(a.get("Timeout", "30000")) / 1000
        cid_name, cid_num = _parse_callerid(a.get("CallerID", ""))
        dial = a.get("Channel", "")
        self.agent_offers[endpoint] = self.agent_offers.get(endpoint, 0) + 1
        if behaviour.unreachable:
            await self.sleep(timeout_s)
            self._originate_response(a, "Failure", dial, 3, channel_id or self._uniqueid(), cid_num or "<unknown>", cid_name or "<unknown>")
            return
        ch = self._new_channel(endpoint, uniqueid=channel_id, caller_num=cid_num or "<unknown>", caller_name=cid_name or "<unknown>", context="agents", exten="s", state=ChannelState.DOWN)
        for var in a.headers.get_all("Variable"):
            k, _, v = var.partition("=")
            ch.variables[k] = v
        self.event("Newchannel", ch.headers())
        for k, v in ch.variables.items():
            self.event("VarSet", ch.headers() + [("Variable", k), ("Value", v)], privilege="dialplan,all")
        ch.connected_num, ch.connected_name = ch.caller_num, ch.caller_name
        dest = ch.headers(prefix="Dest")
        self.event("DialBegin", dest + [("DialString", endpoint.split("/", 1)[1])])
        if behaviour.busy:
            await self.sleep(0.01)
            self.event("DialEnd", ch.headers(prefix="Dest") + [("DialStatus", "BUSY")])
            self._finish_agent_leg(ch, cause=17)
            self._originate_response(a, "Failure", dial, 5, ch.uniqueid, ch.caller_num, ch.caller_name)
            return
        self.event("DialState", ch.headers(prefix="Dest") + [("DialStatus", "RINGING")])
        self.set_state(ch, ChannelState.RINGING)
        self.device_state(endpoint, "RINGING")
        answer_in = behaviour.answer_after_s
        ring_end = asyncio.ensure_future(ch.hangup_event.wait())
        try:
            wait_s = timeout_s if answer_in is None else min(answer_in, timeout_s)
            done, _ = await asyncio.wait({ring_end}, timeout=wait_s * self.time_scale)
        finally:
            ring_end.cancel()
        if not ch.alive:  # cancelled by the engine (Hangup by ChannelId)
            self._originate_response(a, "Failure", dial, 0, ch.uniqueid, ch.caller_num, ch.caller_name)
            return
        if answer_in is None or answer_in > timeout_s:  # RONA
            self._originate_response(a, "Failure", dial, 3, ch.uniqueid, ch.caller_num, ch.caller_name)
            self._finish_agent_leg(ch, cause=19, extra=[("TechCause", "480")])
            return
        ch.answered = self.now()
        self.set_state(ch, ChannelState.UP)
        self.event("DialEnd", ch.headers(prefix="Dest") + [("DialStatus", "ANSWER")])
        self.device_state(endpoint, "INUSE")
        ch.context, ch.exten, ch.priority = "acd-connect", "s", 1
        runner = AgiCallRunner(self, ch, "claim", script=None, outcome=None)
        claim_task = asyncio.ensure_future(runner.run())
        await asyncio.wait({claim_task})
        response_sent = False
        if ch.alive and ch.variables.get("ACD_CLAIM") == "ok":
            ch.priority = 3
            ch.application = "Bridge"
            result = self.bridge_with_caller(ch, ch.variables.get("ACD_CALLER", ""))
            ch.variables["BRIDGERESULT"] = result
            self._originate_response(a, "Success", ch.name, 4, ch.uniqueid, ch.caller_num, ch.caller_name)
            response_sent = True
            if result == "SUCCESS":
                self.spawn(self._agent_talks(ch, behaviour.talk_s), f"sim-talk-{ch.uniqueid}")
                return
        if not response_sent:
            self._originate_response(a, "Success", ch.name, 4, ch.uniqueid, ch.caller_num, ch.caller_name)
        if ch.alive:
            await self.sleep(0.03)
            self.hangup_channel(ch, cause=16, by="pbx")

    def _finish_agent_leg(self, ch: SimChannel, cause: int, extra: list[tuple[str, str]] | None = None) -> None:
        ch.alive = False
        self.event("Hangup", ch.headers() + [("Cause", str(cause)), ("Cause-txt", HANGUP_CAUSES.get(cause, "Unknown"))] + (extra or []))
        self.device_state(ch.endpoint, "NOT_INUSE")
        self.channels.pop(ch.uniqueid, None)
        ch.hangup_event.set()

    async def _agent_talks(self, ch: SimChannel, talk_s: float) -> None:
        hung = asyncio.ensure_future(ch.hangup_event.wait())
        try:
            await asyncio.wait({hung}, timeout=talk_s * self.time_scale)
        finally:
            hung.cancel()
        if ch.alive:
            self.hangup_channel(ch, cause=16, by="agent")

    # ------------------------------------------------------------------ other AMI actions
    async def ami_hangup(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None or not ch.alive:
            s.respond(a, "Error", ("Message", "No such channel"))
            return
        s.respond(a, "Success", ("Message", "Channel Hungup"))
        self.hangup_channel(ch, cause=int(a.get("Cause", "0") or 0), by="engine")

    async def ami_getvar(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None:
            s.respond(a, "Error", ("Message", "No such channel"))
            return
        name = a.get("Variable", "")
        s.respond(a, "Success", ("Variable", name), ("Value", ch.variables.get(name, "")))

    async def ami_setvar(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None:
            s.respond(a, "Error", ("Message", "No such channel"))
            return
        ch.variables[a.get("Variable", "")] = a.get("Value", "")
        s.respond(a, "Success", ("Message", "Variable Set"))

    async def ami_userevent(self, s: AmiSession, a: Action) -> None:
        s.respond(a, "Success", ("Message", "Event Sent"))
        fields = [(k, v) for k, v in a.headers.items() if k.lower() not in ("action", "actionid", "userevent")]
        self.ami.broadcast("UserEvent", [("Privilege", "user,all"), ("UserEvent", a.get("UserEvent", ""))] + fields)

    async def ami_mixmonitor(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None:
            s.respond(a, "Error", ("Message", "No such channel"))
            return
        mmid = f"0x{uuid.uuid4().int & 0xFFFFFFFFFFFF:012x}"
        ch.mix_monitor_id = mmid
        ch.recording = {"file": a.get("File", ""), "started": self.now(), "mutes": [], "stopped": None, "_muted_since": None}
        headers = [("MixMonitorID", mmid)] if "i(" in (a.get("Options") or "") else []
        s.respond(a, "Success", *headers)
        self.event("MixMonitorStart", ch.headers())

    async def ami_mixmonitormute(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None or ch.recording is None:
            s.respond(a, "Error", ("Message", "Cannot set mute flag"))
            return
        on = a.get("State", "0") in ("1", "true", "yes")
        rec = ch.recording
        if on and rec["_muted_since"] is None:
            rec["_muted_since"] = self.now()
        elif not on and rec["_muted_since"] is not None:
            rec["mutes"].append((rec["_muted_since"], self.now()))
            rec["_muted_since"] = None
        s.respond(a, "Success")
        self.event("MixMonitorMute", ch.headers() + [("Direction", a.get("Direction", "both")), ("State", "1" if on else "0")])

    async def ami_stopmixmonitor(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None or ch.recording is None:
            s.respond(a, "Error", ("Message", "Could not stop monitoring channel"))
            return
        s.respond(a, "Success")
        self._stop_recording(ch)

    def _stop_recording(self, ch: SimChannel) -> None:
        rec = ch.recording
        if rec is None:
            return
        if rec["_muted_since"] is not None:
            rec["mutes"].append((rec["_muted_since"], self.now()))
            rec["_muted_since"] = None
        rec["stopped"] = self.now()
        ch.recording = None
        outcome = self._outcome_of(ch)
        if outcome is not None:
            outcome.recordings.append({k: v for k, v in rec.items() if not k.startswith("_")})
        self.event("MixMonitorStop", ch.headers())

    async def ami_redirect(self, s: AmiSession, a: Action) -> None:
        ch = self.find_channel(a.get("Channel", ""))
        if ch is None:
            s.respond(a, "Error", ("Message", "Channel specified does not exist"))
            return
        s.respond(a, "Success", ("Message", "Redirect successful"))
        outcome = self._outcome_of(ch)
        if outcome is not None:
            outcome.transferred_to = f"{a.get('Context')},{a.get('Exten')},{a.get('Priority')}"
        self.hangup_channel(ch, cause=16, by="pbx")

    async def _list(self, s: AmiSession, a: Action, start_msg: str, complete: str, items: list[tuple[str, list[tuple[str, str]]]]) -> None:
        aid = [("ActionID", a.action_id)] if a.action_id is not None else []
        s.respond(a, "Success", ("EventList", "start"), ("Message", start_msg))
        for name, headers in items:
            s.send(_encode_event(name, headers + aid))
        s.send(_encode_event(complete, aid + [("EventList", "Complete"), ("ListItems", str(len(items)))]))

    async def ami_coreshowchannels(self, s: AmiSession, a: Action) -> None:
        items = []
        for ch in self.channels.values():
            items.append(("CoreShowChannel", ch.headers() + [
                ("Application", "" if ch.bridge and ch.application != "Bridge" else ch.application),
                ("ApplicationData", ch.app_data), ("Duration", _hms(self.now() - ch.created)),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
            ]))
        await self._list(s, a, "Channels will follow", "CoreShowChannelsComplete", items)

    async def ami_bridgelist(self, s: AmiSession, a: Action) -> None:
        items = [("BridgeListItem", b.headers()) for b in self.bridges.values()]
        await self._list(s, a, "Bridge listing will follow", "BridgeListComplete", items)

    async def ami_devicestatelist(self, s: AmiSession, a: Action) -> None:
        busy = {ch.endpoint for ch in self.channels.values()}
        devices = sorted({f"PJSIP/{n}" if "/" not in n else n for n in self.agents} | busy)
        items = [("DeviceStateChange", [("Device", d), ("State", "INUSE" if d in busy else "NOT_INUSE")]) for d in devices]
        await self._list(s, a, "Device State Changes will follow", "DeviceStateListComplete", items)

    async def ami_status(self, s: AmiSession, a: Action) -> None:
        ref = a.get("Channel")
        chans = [self.find_channel(ref)] if ref else list(self.channels.values())
        if ref and chans[0] is None:
            s.respond(a, "Error", ("Message", "No such channel"))
            return
        items = []
        for ch in chans:
            extra = [("Application", ch.application or "(null)"), ("Data", ch.app_data), ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Writeformat", "ulaw"), ("BridgeID", ch.bridge.uniqueid if ch.bridge else "")]
            wanted = a.get("Variables")
            if wanted:
                for name in wanted.split(","):
                    extra.append(("Variable", f"{name}={ch.variables.get(name, '(null)')}"))
            items.append(("Status", ch.headers() + extra))
        await self._list(s, a, "Channel status will follow", "StatusComplete", items)


def _encode_event(name: str, headers: list[tuple[str, str]]) -> bytes:
    from acd.ami.codec import encode_event

    return encode_event(name, headers)


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _parse_callerid(value: str) -> tuple[str, str]:
    """``"ACD caller" <8001>`` -> (name, number)."""
    if "<" in value and value.endswith(">"):
        name, _, num = value.rpartition("<")
        return name.strip().strip('"'), num[:-1]
    return "", value
