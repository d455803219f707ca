"""SimPbx: the simulated Asterisk 22. Channels, bridges, device states, the agreed dialplan.

Dialplan modelled (docker/asterisk/extensions.conf; priorities are part of the contract):

    [acd-inbound]  _X.,1 Set(CHANNEL(hangup_handler_push)=acd-hangup,s,1)
                       2 AGI(agi://ENGINE/ivr)    ; the engine answers (ANSWER, its first command)
                       3 Goto(acd-fallback,s,1)
                   h,1 NoOp(...)                  ; only for a caller who leaves before a bridge
    [acd-connect]  s,1 AGI(agi://ENGINE/claim)
                     2 GotoIf($["${ACD_CLAIM}" != "ok"]?lost)
                     3 Bridge(${ACD_CALLER},<x, or F(acd-survey^s^1) from ACD_BRIDGE_OPTS>)
                     4 Hangup()
                     5(lost) Hangup()
                   h,1 NoOp(...)
    [acd-fallback] s,1 NoOp  2 GotoIf(resumed?plain)  3 Set(ACD_RESUMED=1)  4 AGI(agi://ENGINE/resume)
                     5(plain) Playback(queue-periodic-announce)  6 Queue(acd-fallback,,,,300)
                     7 Playback(vm-goodbye)  8 Hangup()
    [acd-callback] _X.,1 AGI(agi://ENGINE/claim)  2 GotoIf(claim lost?lost)  3 Dial(PJSIP/${EXTEN}@trunk,60)
                     4 Hangup()  5(lost) Hangup()    ; the customer answers as ``pbx.customers[number]``
    [acd-survey]   s,1 AGI(agi://ENGINE/survey)  2 Hangup()   ; the caller after the agent left (Bridge F())
    [acd-hangup]   s,1 UserEvent(AcdHangup,Uniqueid: ${UNIQUEID},Cause: ${HANGUPCAUSE})  2 Return()
    [acd-transfer] / [acd-voicemail]: reached by ``EXEC Goto`` from the IVR; simulated briefly.

Event formats and orders follow the recordings in shared/asterisk (transcripts/ and connect/);
tests/sim compares them. Bridge() moves the caller by masquerade: same name and uniqueid on AMI,
while its FastAGI session continues on an invisible ``Surrogate/<name>`` until the engine closes
it. Where Asterisk itself varies an order from run to run (where OriginateResponse falls, whether
Newstate Ringing precedes DialState) the simulator picks the most frequent recorded one.

Usage::

    pbx = SimPbx(agi_host, agi_port, users={"acd": "secret"}, agents={"agent1": AgentBehaviour()},
                 time_scale=0.1)
    await pbx.start()                      # AMI on pbx.ami_port (0 = any free port)
    call = await pbx.place_call(CallerScript(caller_id="+4420...", keys="1,4711#"))
    outcome = await call.finished(30)      # CallOutcome: agent, bridged_at, silence_gaps, ...
    await pbx.stop()
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import uuid
from dataclasses import dataclass
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from acd.clock import Clock, SystemClock
from acd.logs import get_logger
from acd.sim.agi_caller import AgiSession, _split_callerid
from acd.sim.ami_server import SimAmiServer
from acd.sim.channels import Headers, SimBridge, SimChannel
from acd.sim.keys import AudioMeter, KeyPad, Typist, keypress
from acd.sim.model import HANGUP_CAUSES, AgentBehaviour, CallerScript, CallOutcome, ChannelState, Recording
from acd.sim.sounds import sound_length
from acd.sim.timebase import SimTime
from acd.deadline import within

if TYPE_CHECKING:
    from acd.sim.chanspy import SpyLeg

log = get_logger(__name__)
_T = TypeVar("_T")

CALLER_CONTEXT = "acd-inbound"
AGENT_CONTEXT = "acd-agents"  # pjsip.conf: the agent endpoints' context (recorded "agents" on the test bed)
FALLBACK_QUEUE = "acd-fallback"  # the app_queue queue of [acd-fallback] (extensions.conf ACD_FALLBACK_QUEUE)
FALLBACK_QUEUE_S = 300.0
RING_DELAY_S = 0.002  # Originate -> 180 Ringing
BUSY_DELAY_S = 0.005


@dataclass(frozen=True)
class SimEvent:
    t: float  # simulated seconds
    name: str
    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k.lower() == key.lower():
                return v
        return default


class CallHandle:
    """One simulated inbound call; ``await finished()`` returns its ``CallOutcome``."""

    def __init__(self, pbx: SimPbx, channel: SimChannel, script: CallerScript, outcome: CallOutcome) -> None:
        self.pbx = pbx
        self.channel = channel
        self.script = script
        self.outcome = outcome
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.meter = AudioMeter(outcome, pbx.time.now)
        self.typist = Typist(script, pbx.time.sleep, pbx.spawn)

    @property
    def uniqueid(self) -> str:
        return self.channel.uniqueid

    async def finished(self, timeout: float = 30.0) -> CallOutcome:
        """Wait (loop seconds: virtual on a virtual-time loop) until the call is over."""
        await within(self.done.wait(), timeout)
        return self.outcome

    def hangup(self) -> None:
        """The caller hangs up now (a BYE from the caller's phone)."""
        self.pbx.request_hangup(self.channel, cause=16, by="caller", remote=True)

    def press(self, digits: str) -> None:
        """The caller presses keys now (heard only if something reads keys)."""
        if self.channel.keypad is not None:
            for d in digits:
                self.channel.keypad.press(d)


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
        agent_context: str = AGENT_CONTEXT,
        event_log_size: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        self.agi_host, self.agi_port = agi_host, agi_port
        self.clock: Clock = clock or SystemClock()  # the engine's: on a virtual-time loop both share it
        self.time = SimTime(time_scale, self.clock.monotonic)
        self.ami = SimAmiServer(self, ami_host, ami_port, users or {"acd": "acdsecret"})
        self.agents: dict[str, AgentBehaviour] = dict(agents or {})
        self.sound_seconds: Callable[[str], float] | None = sound_seconds
        #: sound files Asterisk cannot open (not installed): STREAM FILE answers ``200 result=-1
        #: endpos=<offset>`` at once with the channel alive, GET DATA skips them (res_agi, main/app.c)
        self.missing_sounds: set[str] = set()
        self.agent_context = agent_context
        self.channels: dict[str, SimChannel] = {}  # uniqueid -> live channel, in creation order
        self.bridges: dict[str, SimBridge] = {}
        self.calls: list[CallHandle] = []
        self.outcomes: list[CallOutcome] = []
        self.recordings: list[Recording] = []
        self.events: collections.deque[SimEvent] = collections.deque(maxlen=event_log_size)
        self.agent_offers: dict[str, int] = {}  # endpoint -> times rung
        self.customers: dict[str, AgentBehaviour] = {}  # number dialled back (digits) -> how that phone answers
        self.spy_legs: list[SpyLeg] = []  # supervisors' ChanSpy legs, in order
        self.callbacks_dialled: list[str] = []  # numbers dialled from [acd-callback], in order
        self.default_customer: AgentBehaviour | None = None  # how other dialled-back numbers answer (None: unreachable)
        self.agi_sessions: set[AgiSession] = set()
        self.astdb: dict[tuple[str, str], str] = {}
        self.global_vars: dict[str, str] = {}
        self.processed_calls = 0
        self.started_wall = self.clock.now()
        self._started_mono = self.clock.monotonic()
        self._uid_seq = itertools.count(1)
        self._chan_seq = itertools.count(0)
        self._device_states: dict[str, str] = {}
        # pjsip.conf's device_state_busy_at (docker/asterisk ships 1): with this many live channels
        # on an endpoint its device state is BUSY whatever their state, ringing included
        # (chan_pjsip_devicestate); 0, as in the observed logs, aggregates the channels' states
        self.device_state_busy_at = 0
        self._handles: dict[str, CallHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def time_scale(self) -> float:
        return self.time.scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        self.time.scale = value

    @property
    def ami_port(self) -> int:
        return self.ami.port

    def uptime(self) -> float:
        return self.clock.monotonic() - self._started_mono

    def sound_length(self, name: str) -> float:
        """Simulated seconds a sound file plays (``sound_seconds`` overrides the table)."""
        return self.sound_seconds(name) if self.sound_seconds is not None else sound_length(name)

    async def start(self) -> None:
        await self.ami.start()
        log.event("sim.pbx.started", ami_port=self.ami_port, agi=f"{self.agi_host}:{self.agi_port}", agents=len(self.agents))

    async def stop(self) -> None:
        self._stopping = True
        for session in list(self.agi_sessions):
            session.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for handle in self.calls:
            if not handle.done.is_set():
                self._close_outcome(handle, by="pbx")
        await self.ami.stop()
        log.event("sim.pbx.stopped", calls=len(self.calls))

    def spawn(self, coro: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error_event("sim.task.crashed", task=task.get_name(), error=repr(task.exception()))

    def add_agent(self, name: str, behaviour: AgentBehaviour | None = None, per_call: Iterable[AgentBehaviour] = ()) -> AgentBehaviour:
        """Register ``PJSIP/<name>``; ``per_call`` behaviours apply to its next calls in order."""
        b = behaviour or AgentBehaviour()
        b.next_calls.extend(per_call)
        self.agents[name.split("/", 1)[-1]] = b
        self._device_states.setdefault(f"PJSIP/{name.split('/', 1)[-1]}", "NOT_INUSE")
        return b

    # ------------------------------------------------------------------ events
    def emit(self, name: str, headers: Headers, privilege: str = "call,all") -> None:
        """Send an event to every AMI client (and the event log). ``Privilege`` goes first."""
        full = [("Privilege", privilege)] + headers
        self.events.append(SimEvent(self.time.now(), name, tuple(full)))
        self.ami.broadcast(name, full, privilege)

    event = emit  # the first version's name

    def events_named(self, *names: str) -> list[SimEvent]:
        return [e for e in self.events if e.name in names]

    # ------------------------------------------------------------------ channels
    def new_uniqueid(self) -> str:
        return f"{int(self.clock.now())}.{next(self._uid_seq)}"

    def new_channel(self, endpoint: str, *, uniqueid: str | None, caller_num: str, caller_name: str, context: str, exten: str, state: ChannelState, kind: str, linkedid: str | None = None) -> SimChannel:
        uid = uniqueid or self.new_uniqueid()
        ch = SimChannel(name=f"{endpoint}-{next(self._chan_seq):08x}", uniqueid=uid, linkedid=linkedid or uid, caller_num=caller_num, caller_name=caller_name, context=context, exten=exten, state=state, kind=kind, created=self.time.now())
        self.channels[uid] = ch
        self.emit("Newchannel", ch.headers())
        return ch

    def find_channel(self, ref: str) -> SimChannel | None:
        """By uniqueid, exact name, or name prefix (as Bridge() and Hangup resolve them)."""
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        for ch in self.channels.values():
            if ch.name == ref:
                return ch
        for ch in self.channels.values():
            if ch.name.startswith(ref):
                return ch
        return None

    def step(self, ch: SimChannel, context: str, exten: str, priority: int, app: str, data: str = "") -> None:
        """The channel executes a dialplan priority (Newexten)."""
        ch.context, ch.exten, ch.priority = context, exten, priority
        ch.application, ch.app_data = app, data
        self.emit("Newexten", ch.headers() + [("Extension", exten), ("Application", app), ("AppData", data)], privilege="dialplan,all")

    def set_state(self, ch: SimChannel, state: ChannelState) -> None:
        ch.state = state
        self.emit("Newstate", ch.headers())
        self._update_device(ch.endpoint)

    def answer(self, ch: SimChannel) -> None:
        first = ch.answered is None
        ch.answered = self.time.now()
        self.set_state(ch, ChannelState.UP)
        handle = self._handles.get(ch.uniqueid)
        if first and handle is not None and handle.channel is ch:
            self._caller_answered(handle)

    def _caller_answered(self, handle: CallHandle) -> None:
        """The caller's channel is up (the engine's ANSWER, or Playback in [acd-fallback]): the
        caller hears from now on, and starts typing the keys of its script's timeline."""
        handle.outcome.answered_at = handle.channel.answered
        handle.typist.start_timeline()
        self._meter_update(handle.channel, False)

    def _update_device(self, endpoint: str) -> None:
        states = [c.state for c in self.channels.values() if c.endpoint == endpoint and not c.destroyed.is_set()]
        in_use = any(s in (ChannelState.UP, ChannelState.RING) for s in states)
        ringing = any(s == ChannelState.RINGING for s in states)
        new = "RINGINUSE" if in_use and ringing else "INUSE" if in_use else "RINGING" if ringing else "NOT_INUSE"
        if self.device_state_busy_at and len(states) >= self.device_state_busy_at:
            new = "BUSY"
        if self._device_states.get(endpoint, "NOT_INUSE") != new:
            self._device_states[endpoint] = new
            self.emit("DeviceStateChange", [("Device", endpoint), ("State", new)])

    def set_device_state(self, endpoint: str, state: str) -> None:
        """A phone registers or drops off (UNAVAILABLE), as PJSIP reports it."""
        if self._device_states.get(endpoint) != state:
            self._device_states[endpoint] = state
            self.emit("DeviceStateChange", [("Device", endpoint), ("State", state)])

    def device_states(self) -> dict[str, str]:
        for name in self.agents:
            self._device_states.setdefault(f"PJSIP/{name}", "NOT_INUSE")
        return dict(sorted(self._device_states.items()))

    def channel_variable(self, ch: SimChannel, name: str) -> str | None:
        builtin = {
            "CHANNEL": ch.name, "CHANNEL(name)": ch.name, "UNIQUEID": ch.uniqueid, "CHANNEL(uniqueid)": ch.uniqueid,
            "CHANNEL(linkedid)": ch.linkedid, "CALLERID(num)": ch.caller_num, "CALLERID(name)": ch.caller_name,
            "CALLERID(all)": f'"{ch.caller_name}" <{ch.caller_num}>', "CALLERID(dnid)": ch.dnid or None,
            "CONNECTEDLINE(num)": ch.connected_num, "CONNECTEDLINE(name)": ch.connected_name,
            "CHANNEL(language)": ch.language, "LANGUAGE()": ch.language, "EXTEN": ch.exten, "CONTEXT": ch.context,
            "PRIORITY": str(ch.priority), "HANGUPCAUSE": str(ch.hangup_cause), "CHANNEL(state)": ch.state.name.capitalize(),
        }
        if name in builtin:
            return builtin[name]
        return ch.variables.get(name, self.global_vars.get(name))

    def set_channel_variable(self, ch: SimChannel, name: str, value: str) -> None:
        if name in ("CHANNEL(language)", "LANGUAGE()"):
            ch.language = value
            return
        if name == "CALLERID(name)":
            ch.caller_name = value
            return
        if name == "CALLERID(num)":
            ch.caller_num = value
            return
        ch.variables[name] = value
        self.emit("VarSet", ch.headers() + [("Variable", name), ("Value", value)], privilege="dialplan,all")

    def set_goto(self, ch: SimChannel, context: str | None = None, exten: str | None = None, priority: int | None = None) -> None:
        """An AGI ``EXEC Goto`` / ``SET CONTEXT``: where the channel continues after AGI()."""
        ctx, ext, prio = ch.variables.get("__goto__", f"{ch.context},{ch.exten},{ch.priority}").split(",")
        ch.variables["__goto__"] = f"{context or ctx},{exten or ext},{priority if priority is not None else prio}"

    # ------------------------------------------------------------------ what the caller hears
    def hear(self, ch: SimChannel, activity: str | None = None, listening: bool = False) -> None:
        ch.activity = activity
        self._meter_update(ch, listening)

    def _meter_update(self, ch: SimChannel, listening: bool | None = None) -> None:
        handle = self._handles.get(ch.uniqueid)
        if handle is None or ch.destroyed.is_set():
            return
        if ch.bridge is not None:
            audio = "bridged"
        elif ch.activity:
            audio = ch.activity
        elif ch.moh_class or ch.background_moh:
            audio = "moh"
        else:
            audio = "silence"
        handle.meter.set(audio, listening)

    def start_moh(self, ch: SimChannel, moh_class: str) -> None:
        ch.moh_class = moh_class
        self.emit("MusicOnHoldStart", ch.headers() + [("Class", moh_class)])
        self._meter_update(ch, False)

    def stop_moh(self, ch: SimChannel) -> None:
        if ch.moh_class is not None:
            ch.moh_class = None
            self.emit("MusicOnHoldStop", ch.headers())
            self._meter_update(ch, False)

    def set_background_moh(self, ch: SimChannel, moh_class: str | None) -> None:
        if moh_class and not ch.background_moh:
            ch.background_moh = moh_class
            self.emit("MusicOnHoldStart", ch.headers() + [("Class", moh_class)])
        elif not moh_class and ch.background_moh:
            ch.background_moh = None
            self.emit("MusicOnHoldStop", ch.headers())
        self._meter_update(ch, False)

    # ------------------------------------------------------------------ recordings (MixMonitor)
    def start_recording(self, ch: SimChannel, file: str, options: str = "") -> Recording:
        mmid = f"0x{uuid.uuid4().int & 0xFFFFFFFFFFFF:012x}"
        rec = Recording(file=file, channel=ch.name, uniqueid=ch.uniqueid, started=self.time.now(), mix_monitor_id=mmid, options=options)
        ch.recording = rec
        self.recordings.append(rec)
        handle = self._handles.get(ch.uniqueid)
        if handle is None and ch.bridge is not None:  # on the agent's leg: the caller's audio is "write"
            peer = next((c for c in ch.bridge.channels if c is not ch), None)
            handle = self._handles.get(peer.uniqueid) if peer else None
            rec.caller_direction = "write"
        if handle is not None:
            handle.outcome.recordings.append(rec)
        if ch.bridge is not None:
            ch.bridge.technology = "simple_bridge"
        self.emit("MixMonitorStart", ch.headers())
        return rec

    def mute_recording(self, ch: SimChannel, direction: str, on: bool) -> None:
        assert ch.recording is not None
        ch.recording.mute(direction, on, self.time.now())
        self.emit("MixMonitorMute", ch.headers() + [("Direction", direction), ("State", "1" if on else "0")])

    def stop_recording(self, ch: SimChannel) -> bool:
        rec = ch.recording
        if rec is None:
            return False
        rec.stop(self.time.now())
        ch.recording = None
        if ch.bridge is not None and not any(c.recording for c in ch.bridge.channels):
            ch.bridge.technology = "native_rtp"
        self.emit("MixMonitorStop", ch.headers())
        return True

    # ------------------------------------------------------------------ hangups
    def request_hangup(self, ch: SimChannel, cause: int = 16, by: str = "pbx", *, remote: bool = False, soft_cause: int | None = None) -> bool:
        """Ask a channel to hang up. ``remote``: the phone hung up (HangupRequest); else a local
        soft hangup (SoftHangupRequest with ``soft_cause``, none if ``soft_cause`` is None and
        the channel is not up). The channel's own runner finishes it (Hangup event)."""
        if ch.gone.is_set() or ch.destroyed.is_set():
            return False
        ch.hangup_cause = cause
        ch.hung_up_by = by
        if remote:
            self.emit("HangupRequest", ch.headers())
        elif soft_cause is not None:
            self.emit("SoftHangupRequest", ch.headers() + [("Cause", str(soft_cause))])
        ch.gone.set()
        handle = self._handles.get(ch.uniqueid)
        if handle is not None:
            handle.typist.cancel()
        return True

    def _finish(self, ch: SimChannel, *, h_exten: bool, tech_cause: str | None = None) -> None:
        """The channel's last steps: its h extension, the hangup handler, the Hangup event."""
        if ch.destroyed.is_set():
            return
        ch.gone.set()
        self.stop_moh(ch)
        if ch.background_moh:
            self.set_background_moh(ch, None)
        self.stop_recording(ch)
        if h_exten and ch.context in ("acd-inbound", "acd-connect"):
            note = f"{ch.context} h: {ch.name} uid={ch.uniqueid} cause={ch.hangup_cause}"
            self.step(ch, ch.context, "h", 1, "NoOp", note)
            ch.priority = 2
        if ch.kind == "caller":
            saved = (ch.context, ch.exten, ch.priority)
            self.step(ch, "acd-hangup", "s", 1, "UserEvent", f"AcdHangup,Uniqueid: {ch.uniqueid},Cause: {ch.hangup_cause}")
            self.emit("UserEvent", ch.headers() + [("UserEvent", "AcdHangup"), ("Uniqueid", ch.uniqueid), ("Cause", str(ch.hangup_cause))], privilege="user,all")
            self.step(ch, "acd-hangup", "s", 2, "Return", "")
            ch.context, ch.exten, ch.priority = saved
        extra = [("TechCause", tech_cause)] if tech_cause else []
        self.emit("Hangup", ch.headers() + [("Cause", str(ch.hangup_cause)), ("Cause-txt", HANGUP_CAUSES.get(ch.hangup_cause, "Unknown"))] + extra)
        ch.destroyed.set()
        self.channels.pop(ch.uniqueid, None)
        self._update_device(ch.endpoint)
        handle = self._handles.get(ch.uniqueid)
        if handle is not None:
            self._close_outcome(handle, by=ch.hung_up_by or "pbx")

    def _close_outcome(self, handle: CallHandle, by: str) -> None:
        out = handle.outcome
        now = self.time.now()
        out.ended = now
        if out.hung_up_by is None:
            out.hung_up_by = by
        out.hangup_cause = handle.channel.hangup_cause
        if out.bridged_at is not None and out.unbridged_at is None:
            out.unbridged_at = now
        handle.meter.close()
        handle.typist.cancel()
        if not handle.done.is_set():
            self.outcomes.append(out)
            handle.done.set()
        self._handles.pop(handle.uniqueid, None)

    async def _first(self, *events: asyncio.Event, timeout: float | None = None) -> asyncio.Event | None:
        """Wait (simulated seconds) for the first of ``events``; None on timeout."""
        for e in events:
            if e.is_set():
                return e
        waits = {asyncio.ensure_future(e.wait()): e for e in events}
        try:
            done, _ = await asyncio.wait(waits, timeout=None if timeout is None else self.time.real(timeout), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        for e in events:
            if e.is_set():
                return e
        return None

    # ------------------------------------------------------------------ inbound calls
    async def place_call(self, script: CallerScript) -> CallHandle:
        ch = self.new_channel(script.endpoint, uniqueid=None, caller_num=script.caller_id, caller_name=script.caller_name, context=CALLER_CONTEXT, exten=script.dnis, state=ChannelState.RING, kind="caller")
        ch.language, ch.dnid = script.language, script.dnis
        outcome = CallOutcome(uniqueid=ch.uniqueid, channel=ch.name, caller_id=script.caller_id, started=self.time.now())
        handle = CallHandle(self, ch, script, outcome)
        ch.keypad = KeyPad(lambda d, heard: self._on_key(handle, d, heard), handle.typist.on_listen)
        handle.typist.attach(ch.keypad)
        self.calls.append(handle)
        self._handles[ch.uniqueid] = handle
        self.processed_calls += 1
        handle.task = self.spawn(self._run_caller(handle), f"sim-call-{ch.uniqueid}")
        log.event("sim.call.placed", uniqueid=ch.uniqueid, channel=ch.name, label=script.name or None)
        return handle

    def _on_key(self, handle: CallHandle, digit: str, heard: bool) -> None:
        ch = handle.channel
        if ch.gone.is_set():
            return
        keypress(handle.outcome, self.time.now(), digit, heard)
        self.emit("DTMFBegin", ch.headers() + [("Digit", digit), ("Direction", "Received")], privilege="dtmf,all")
        self.emit("DTMFEnd", ch.headers() + [("Digit", digit), ("DurationMs", "120"), ("Direction", "Received")], privilege="dtmf,all")

    async def _run_caller(self, handle: CallHandle) -> None:
        ch, script = handle.channel, handle.script
        try:
            if script.hangup_after_s is not None:
                self.spawn(self._hang_up_later(ch, script.hangup_after_s, "caller"), f"sim-caller-hangup-{ch.uniqueid}")
            self.step(ch, CALLER_CONTEXT, ch.exten, 1, "Set", "CHANNEL(hangup_handler_push)=acd-hangup,s,1")
            await self._caller_dialplan(handle, CALLER_CONTEXT, ch.exten, 2)  # unanswered: the engine answers
        finally:
            if not ch.destroyed.is_set() and not self._stopping:
                if not ch.gone.is_set():
                    ch.hangup_cause, ch.hung_up_by = 16, ch.hung_up_by or "pbx"
                self._finish(ch, h_exten=False)

    async def _hang_up_later(self, ch: SimChannel, after_s: float, by: str) -> None:
        await self.time.sleep(after_s)
        self.request_hangup(ch, cause=16, by=by, remote=True)

    async def _caller_dialplan(self, handle: CallHandle, context: str, exten: str, priority: int) -> None:
        """Run the caller's dialplan from (context, exten, priority) until the channel ends."""
        ch, outcome = handle.channel, handle.outcome
        while not ch.destroyed.is_set():
            if ch.gone.is_set():
                self._finish(ch, h_exten=context == CALLER_CONTEXT)
                return
            if context == CALLER_CONTEXT and priority == 1:
                priority = 2
            if context == CALLER_CONTEXT and priority == 2:
                self.step(ch, context, exten, 2, "AGI", f"agi://{self.agi_host}:{self.agi_port}/ivr")
                status = await self._caller_agi(handle)
                if status == "YANKED":
                    if await self._caller_bridged(handle) == "redirect":
                        context, exten, priority = self._take_goto(ch) or (context, exten, 3)
                        continue
                    return
                if ch.gone.is_set():
                    self._finish(ch, h_exten=True)
                    return
                target = self._take_goto(ch)
                if target is not None:
                    context, exten, priority = target
                    continue
                outcome.fallback = True
                outcome.fallback_reason = "agi_failed" if status == "FAILURE" else "session_ended"
                self.step(ch, context, exten, 3, "Goto", "acd-fallback,s,1")
                context, exten, priority = "acd-fallback", "s", 1
                continue
            if context == "acd-fallback":
                result = await self._fallback(handle)
                if result == "redirect":
                    context, exten, priority = self._take_goto(ch) or ("acd-fallback", "s", 1)
                    continue
                if result == "bridged":  # a surviving engine node took the caller back and connected it
                    if await self._caller_bridged(handle) == "redirect":
                        context, exten, priority = self._take_goto(ch) or ("acd-fallback", "s", 1)
                        continue
                return
            if context in ("acd-transfer", "acd-voicemail"):
                await self._transfer(handle, context, exten)
                return
            if context == "acd-survey":  # the agent hung up and Bridge F() continued the caller here
                outcome.surveyed = True
                ch.yanked.clear()  # out of the bridge: a new AGI() of its own
                self.step(ch, context, exten, 1, "AGI", f"agi://{self.agi_host}:{self.agi_port}/survey")
                await self._caller_agi(handle, script_name="survey")
                if not ch.gone.is_set():
                    self.step(ch, context, exten, 2, "Hangup", "")
                    self.request_hangup(ch, cause=16, by="pbx", soft_cause=16)
                self._finish(ch, h_exten=False)
                return
            log.warn_event("sim.dialplan.no_such_place", channel=ch.name, context=context, exten=exten, priority=priority)
            self.request_hangup(ch, cause=16, by="pbx")
            self._finish(ch, h_exten=False)
            return

    def _take_goto(self, ch: SimChannel, peek: bool = False) -> tuple[str, str, int] | None:
        if peek:
            target = ch.variables.get("__goto__")
            return None if target is None else (target.split(",")[0], target.split(",")[1], int(target.split(",")[2]))
        ch.async_goto.clear()
        target = ch.variables.pop("__goto__", None)
        if target is None:
            return None
        ctx, ext, prio = target.split(",")
        return ctx, ext, int(prio)

    async def _caller_agi(self, handle: CallHandle, script_name: str = "ivr") -> str:
        """AGI(agi://ENGINE/ivr) (or /resume). Returns AGISTATUS, or YANKED when Bridge() took the
        caller: the session then lives on (the Surrogate's) until the engine closes it."""
        ch = handle.channel
        session = AgiSession(self, ch, script_name, handle.outcome)
        task = self.spawn(session.run(), f"sim-agi-ivr-{ch.uniqueid}")
        ended = asyncio.Event()
        task.add_done_callback(lambda _t: ended.set())
        first = await self._first(ended, ch.yanked)
        if first is ch.yanked and not task.done():
            return "YANKED"
        if ch.yanked.is_set():
            return "YANKED"
        try:
            status = task.result()
        except (asyncio.CancelledError, Exception):
            status = "FAILURE"
        self.set_variable(ch, "AGISTATUS", status)
        return status

    def set_variable(self, ch: SimChannel, name: str, value: str) -> None:
        """A channel variable set by the dialplan or an application (VarSet, as recorded)."""
        ch.variables[name] = value
        self.emit("VarSet", ch.headers() + [("Variable", name), ("Value", value)], privilege="dialplan,all")

    async def _caller_bridged(self, handle: CallHandle) -> str | None:
        """The caller talks to an agent until one of them hangs up (or a Redirect)."""
        ch = handle.channel
        while True:
            await self._first(ch.gone, ch.left_bridge, ch.async_goto)
            if ch.async_goto.is_set() and not ch.gone.is_set():
                bridge = ch.bridge
                if bridge is not None:
                    self._leave_bridge(ch)
                    self._dissolve(bridge)
                return "redirect"
            if ch.gone.is_set():
                bridge = ch.bridge
                if bridge is not None:
                    self._leave_bridge(ch)
                self._finish(ch, h_exten=False)
                if bridge is not None:
                    self._dissolve(bridge)
                return None
            ch.left_bridge.clear()
            if ch.bridge is None:  # the bridge ended under us without x: hang up (x semantics)
                ch.hangup_cause, ch.hung_up_by = 16, ch.hung_up_by or "agent"
                self._finish(ch, h_exten=False)
                return None

    async def _fallback(self, handle: CallHandle) -> str | None:
        ch, script = handle.channel, handle.script
        ctx = "acd-fallback"
        self.step(ch, ctx, "s", 1, "NoOp", f"acd-fallback: {ch.name} uid={ch.uniqueid} agi={ch.variables.get('AGISTATUS', '')}")
        resumed = ch.variables.get("ACD_RESUMED") == "1"
        self.step(ch, ctx, "s", 2, "GotoIf", f"{int(resumed)}?plain")  # AppData as Asterisk shows it: the expression evaluated
        if not resumed:
            self.step(ch, ctx, "s", 3, "Set", "ACD_RESUMED=1")
            self.set_variable(ch, "ACD_RESUMED", "1")
            self.step(ch, ctx, "s", 4, "AGI", f"agi://{self.agi_host}:{self.agi_port}/resume")
            status = await self._caller_agi(handle, script_name="resume")
            if status == "YANKED":
                return "bridged"
            if ch.gone.is_set():
                self._finish(ch, h_exten=False)
                return None
            if self._take_goto(ch, peek=True) is not None:
                return "redirect"
        self.step(ch, ctx, "s", 5, "Playback", "queue-periodic-announce")
        if ch.state != ChannelState.UP:  # Playback answers a channel nobody has answered (the engine was away)
            self.answer(ch)
        if not await self._dialplan_sound(handle, "queue-periodic-announce"):
            return None
        self.step(ch, ctx, "s", 6, "Queue", f"{FALLBACK_QUEUE},,,,{int(FALLBACK_QUEUE_S)}")
        # app_queue, as recorded (observed/engine_killed_while_caller_waits): the caller joins, hears
        # music; when it leaves, QueueCallerAbandon (if it hung up) then QueueCallerLeave
        self.emit("QueueCallerJoin", ch.headers() + [("Queue", FALLBACK_QUEUE), ("Position", "1"), ("Count", "1")], privilege="agent,all")
        joined = self.time.now()
        self.start_moh(ch, "default")
        patience = script.fallback_patience_s
        wait = FALLBACK_QUEUE_S if patience is None else min(patience, FALLBACK_QUEUE_S)
        gone = await self._first(ch.gone, ch.async_goto, timeout=wait)
        self.stop_moh(ch)
        if gone is None and patience is not None and patience < FALLBACK_QUEUE_S:
            self.request_hangup(ch, cause=16, by="caller", remote=True)
        if ch.gone.is_set():
            self.emit("QueueCallerAbandon", ch.headers() + [("Queue", FALLBACK_QUEUE), ("Position", "1"), ("OriginalPosition", "1"),
                                                              ("HoldTime", str(int(self.time.now() - joined)))], privilege="agent,all")
        self.emit("QueueCallerLeave", ch.headers() + [("Queue", FALLBACK_QUEUE), ("Position", "1"), ("Count", "0")], privilege="agent,all")
        if gone is ch.async_goto and not ch.gone.is_set():
            return "redirect"
        if ch.gone.is_set():
            self._finish(ch, h_exten=False)
            return None
        self.step(ch, ctx, "s", 7, "Playback", "vm-goodbye")
        if not await self._dialplan_sound(handle, "vm-goodbye"):
            return None
        self.step(ch, ctx, "s", 8, "Hangup", "")
        self.request_hangup(ch, cause=16, by="pbx", soft_cause=16)
        self._finish(ch, h_exten=False)
        return None

    async def _dialplan_sound(self, handle: CallHandle, name: str) -> bool:
        ch = handle.channel
        handle.outcome.prompts.append(name)
        self.hear(ch, "prompt")
        gone = await self._first(ch.gone, timeout=self.sound_length(name))
        self.hear(ch, None)
        if gone is not None:
            self._finish(ch, h_exten=False)
            return False
        return True

    async def _transfer(self, handle: CallHandle, context: str, exten: str) -> None:
        """``acd-transfer`` (Dial over the trunk) or ``acd-voicemail``: the engine's job ends
        here; the caller talks (or leaves a message) and hangs up."""
        ch, outcome = handle.channel, handle.outcome
        outcome.transferred_to = f"{context},{exten},1"
        if context == "acd-transfer":
            self.step(ch, context, exten, 1, "Dial", f"PJSIP/{exten}@trunk,60")
            self.hear(ch, "ringback")
            if await self._first(ch.gone, timeout=2.0) is None:
                self.hear(ch, "bridged")
                await self._first(ch.gone, timeout=handle.script.hangup_after_bridge_s or 10.0)
        else:
            self.step(ch, context, exten, 1, "VoiceMail", f"{exten}@default,u")
            self.hear(ch, "prompt")
            await self._first(ch.gone, timeout=5.0)
        if not ch.gone.is_set():
            self.request_hangup(ch, cause=16, by="caller", remote=True)
        self._finish(ch, h_exten=False)

    def redirect(self, ch: SimChannel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect. A caller inside AGI() gets -1/HANGUP at once but moves only when the
        engine closes the session (FINDINGS §5: dead air meanwhile); a bridged caller leaves
        the bridge (the agent's Bridge() returns and the agent leg hangs up)."""
        if ch.kind != "caller":
            log.warn_event("sim.redirect.unsupported", channel=ch.name)
            return
        ch.variables["__goto__"] = f"{context},{exten},{priority}"
        ch.async_goto.set()

    # ------------------------------------------------------------------ bridges
    def _leave_bridge(self, ch: SimChannel) -> None:
        bridge = ch.bridge
        if bridge is None:
            return
        if ch in bridge.channels:
            bridge.channels.remove(ch)
            self.emit("BridgeLeave", bridge.headers() + ch.headers())
        ch.bridge = None
        ch.left_bridge.set()
        handle = self._handles.get(ch.uniqueid)
        if handle is not None and handle.outcome.unbridged_at is None:
            handle.outcome.unbridged_at = self.time.now()
        self._meter_update(ch, False)

    def _dissolve(self, bridge: SimBridge) -> None:
        """A two-party bridge ends when one side leaves: the other is pushed out, then destroyed."""
        for other in list(bridge.channels):
            self._leave_bridge(other)
        if bridge.uniqueid in self.bridges:
            self.bridges.pop(bridge.uniqueid)
            self.emit("BridgeDestroy", bridge.headers())

    def bridge_with_caller(self, agent: SimChannel, caller_ref: str) -> str:
        """``Bridge(${ACD_CALLER},x)`` on the agent leg. Returns BRIDGERESULT."""
        caller = self.find_channel(caller_ref)
        if caller is None or caller.gone.is_set() or caller is agent:
            return "NONEXISTENT"
        old = caller.bridge
        bridge = SimBridge()
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", bridge.headers())
        if old is None:
            self.stop_moh(caller)
            if caller.background_moh:
                caller.background_moh = None
            caller.activity = None
            caller.priority += 1  # Asterisk reports the priority after the waiting application
            caller.application, caller.app_data = "", ""
            if caller.agi is not None:
                caller.agi.yank(self.new_uniqueid())
            caller.yanked.set()  # the pending AGI command gets -1 now, HANGUP ~43 ms later
        else:  # a second Bridge() steals the caller (FINDINGS run g)
            old.channels.remove(caller)
            self.emit("BridgeLeave", old.headers() + caller.headers())
        for ch in (caller, agent):
            bridge.channels.append(ch)
            ch.bridge = bridge
            if ch is agent:
                agent.linkedid = caller.linkedid
            self.emit("BridgeEnter", bridge.headers() + ch.headers())
        bridge.technology = "simple_bridge" if (caller.recording or agent.recording) else "native_rtp"
        if old is not None:
            self._dissolve(old)
        self._connected_line(agent, caller.caller_num, caller.caller_name)
        self._connected_line(caller, agent.caller_num, agent.caller_name)
        handle = self._handles.get(caller.uniqueid)
        if handle is not None:
            out = handle.outcome
            out.agent, out.agent_channel = agent.endpoint, agent.name
            out.bridged_at, out.unbridged_at = self.time.now(), None
            self._meter_update(caller, False)
            if handle.script.hangup_after_bridge_s is not None:
                self.spawn(self._hang_up_later(caller, handle.script.hangup_after_bridge_s, "caller"), f"sim-caller-ends-{caller.uniqueid}")
        log.event("sim.bridge.connected", caller=caller.uniqueid, agent=agent.name, bridge=bridge.uniqueid, stolen=old is not None)
        return "SUCCESS"

    def _connected_line(self, ch: SimChannel, num: str, name: str) -> None:
        if (ch.connected_num, ch.connected_name) != (num, name):
            ch.connected_num, ch.connected_name = num, name
            self.emit("NewConnectedLine", ch.headers())

    # ------------------------------------------------------------------ Dial from the caller
    async def dial(self, caller: SimChannel, data: str) -> int:
        """``Dial(PJSIP/agent1[&PJSIP/agent2],timeout,m)`` run by the caller (AGI ``EXEC Dial``).
        Events as recorded in connect/exp4_redirect_dial: DialBegin/DialState/DialEnd carry
        the caller's headers and the ``Dest`` ones; the answered agent enters the bridge first.
        Returns the application's result (0 not answered, -1 after a conversation or a hangup)
        and sets DIALSTATUS. After a conversation the caller is hung up, as Dial's -1 makes the
        dialplan do (an inference for AGI; the recording ran Dial from the dialplan)."""
        parts = data.split(",")
        timeout = float(parts[1]) if len(parts) > 1 and parts[1] else None
        opts = parts[2] if len(parts) > 2 else ""
        legs: list[tuple[SimChannel, AgentBehaviour, str]] = []
        for target in [t for t in parts[0].split("&") if t]:
            tech, _, res = target.partition("/")
            resource = res.split("@")[0]
            b = self.behaviour_for(resource)
            if b is None:
                continue
            endpoint = f"{tech}/{resource}"
            self.agent_offers[endpoint] = self.agent_offers.get(endpoint, 0) + 1
            ch = self.new_channel(endpoint, uniqueid=None, caller_num="<unknown>", caller_name="<unknown>", context=self.agent_context, exten="s", state=ChannelState.DOWN, kind="agent", linkedid=caller.linkedid)
            ch.exten, ch.caller_num = resource, resource
            self.emit("NewCallerid", ch.headers() + [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
            self._connected_line(ch, caller.caller_num, caller.caller_name)
            self.emit("DialBegin", caller.headers() + ch.headers("Dest") + [("DialString", res)])
            legs.append((ch, b, res))
        if not legs:
            self.set_channel_variable(caller, "DIALSTATUS", "CHANUNAVAIL")
            return 0
        if "m" in opts:
            self.start_moh(caller, "default")
        else:
            self.hear(caller, "ringback")
        self._connected_line(caller, legs[0][0].caller_num, legs[0][0].caller_name)
        started = self.time.now()
        ringing: list[tuple[SimChannel, AgentBehaviour]] = []
        await self.time.sleep(RING_DELAY_S)
        for ch, b, _ in legs:
            if b.busy:
                self.emit("DialEnd", caller.headers() + ch.headers("Dest") + [("DialStatus", "BUSY")])
                ch.hangup_cause = 17
                self._finish(ch, h_exten=False, tech_cause="486")
            elif b.unreachable:
                ringing.append((ch, b))
            else:
                self.set_state(ch, ChannelState.RINGING)
                self.emit("DialState", caller.headers() + ch.headers("Dest") + [("DialStatus", "RINGING")])
                ringing.append((ch, b))
        winner: SimChannel | None = None
        while ringing and winner is None:
            now = self.time.now() - started
            answers = [(b.answer_after_s, ch) for ch, b in ringing if b.answer_after_s is not None and not b.unreachable]
            next_answer = min((a for a, _ in answers), default=None)
            limit = [t for t in (next_answer, timeout) if t is not None]
            wait = max(0.0, min(limit) - now) if limit else None
            first = await self._first(caller.gone, caller.async_goto, *[ch.gone for ch, _ in ringing], timeout=wait)
            if first is not None:
                if caller.gone.is_set() or caller.async_goto.is_set():
                    break
                ringing = [(ch, b) for ch, b in ringing if not ch.gone.is_set() or self._dial_leg_ended(caller, ch, "NOANSWER")]
                ringing = [(ch, b) for ch, b in ringing if not ch.destroyed.is_set()]
                continue
            now = self.time.now() - started
            if next_answer is not None and next_answer <= now + 1e-9 and (timeout is None or next_answer < timeout):
                winner = next(ch for a, ch in answers if a == next_answer)
            else:
                break  # the Dial timeout
        status = "ANSWER" if winner is not None else "CANCEL" if caller.gone.is_set() else "NOANSWER"
        for ch, _ in ringing:
            if ch is winner:
                continue
            self.emit("DialEnd", caller.headers() + ch.headers("Dest") + [("DialStatus", status if status != "ANSWER" else "CANCEL")])
            ch.hangup_cause = 16 if status == "CANCEL" else 26 if status == "ANSWER" else 0
            ch.gone.set()
            self._finish(ch, h_exten=False)
        self.stop_moh(caller)
        self.hear(caller, None)
        self.set_channel_variable(caller, "DIALSTATUS", status)
        if winner is None:
            return -1 if caller.gone.is_set() else 0
        return await self._dial_connected(caller, winner, next(b for ch, b, _ in legs if ch is winner))

    def _dial_leg_ended(self, caller: SimChannel, ch: SimChannel, status: str) -> bool:
        self.emit("DialEnd", caller.headers() + ch.headers("Dest") + [("DialStatus", status)])
        self._finish(ch, h_exten=False)
        return False

    async def _dial_connected(self, caller: SimChannel, agent: SimChannel, b: AgentBehaviour) -> int:
        agent.answered = self.time.now()
        agent.state = ChannelState.UP
        self.emit("Newstate", agent.headers())
        self.emit("DialEnd", caller.headers() + agent.headers("Dest") + [("DialStatus", "ANSWER")])
        self._update_device(agent.endpoint)
        bridge = SimBridge()
        self.bridges[bridge.uniqueid] = bridge
        self.emit("BridgeCreate", bridge.headers())
        for ch in (agent, caller):  # recorded: the called agent enters first
            bridge.channels.append(ch)
            ch.bridge = bridge
            self.emit("BridgeEnter", bridge.headers() + ch.headers())
        bridge.technology = "native_rtp"
        handle = self._handles.get(caller.uniqueid)
        if handle is not None:
            handle.outcome.agent, handle.outcome.agent_channel = agent.endpoint, agent.name
            handle.outcome.bridged_at, handle.outcome.unbridged_at = self.time.now(), None
            self._meter_update(caller, False)
            if handle.script.hangup_after_bridge_s is not None:
                self.spawn(self._hang_up_later(caller, handle.script.hangup_after_bridge_s, "caller"), f"sim-caller-ends-{caller.uniqueid}")
        if b.talk_s is not None:
            self.spawn(self._hang_up_later(agent, b.talk_s, "agent"), f"sim-agent-talk-{agent.uniqueid}")
        await self._first(caller.gone, agent.gone)
        if agent.gone.is_set():
            self._leave_bridge(agent)
            self._finish(agent, h_exten=False)
            self._dissolve(bridge)
            self.request_hangup(caller, cause=16, by=agent.hung_up_by or "agent", soft_cause=16)
        else:
            self._leave_bridge(caller)
            self._dissolve(bridge)
            self.request_hangup(agent, cause=16, by="pbx", soft_cause=16)
            self._finish(agent, h_exten=False)
        return -1

    # ------------------------------------------------------------------ agent legs (Originate)
    def behaviour_for(self, resource: str) -> AgentBehaviour | None:
        b = self.agents.get(resource) or self.agents.get(f"PJSIP/{resource}") or self.customers.get(resource)
        if b is None and resource.isdigit():
            b = self.default_customer  # any other number dialled back
        return b.for_next_call() if b is not None else None

    async def originate(self, spec: OriginateSpec, report: Callable[[str, str, int, str], None]) -> None:
        """Run one agent leg. ``report(response, channel, reason, uniqueid)`` is called once,
        when Asterisk would send the OriginateResponse (answer or failure)."""
        tech, _, resource = spec.dial.partition("/")
        endpoint = f"{tech}/{resource.split('@')[0]}"
        behaviour = self.behaviour_for(resource)
        if behaviour is None or spec.channel_id in self.channels:
            log.warn_event("sim.originate.failed", dial=spec.dial, reason="unknown endpoint" if behaviour is None else "duplicate ChannelId")
            report("Failure", spec.dial, 0, spec.channel_id or "<unknown>")
            return
        self.agent_offers[endpoint] = self.agent_offers.get(endpoint, 0) + 1
        ch = self.new_channel(endpoint, uniqueid=spec.channel_id, caller_num="<unknown>", caller_name="<unknown>", context=self.agent_context, exten="s", state=ChannelState.DOWN, kind="agent")
        self.step(ch, self.agent_context, "s", 1, "AppDial2", "(Outgoing Line)")
        for name, value in spec.variables:
            ch.variables[name] = value
            self.emit("VarSet", ch.headers() + [("Variable", name), ("Value", value)], privilege="dialplan,all")
        if spec.caller_num or spec.caller_name:
            ch.caller_num, ch.caller_name = spec.caller_num or "<unknown>", spec.caller_name or "<unknown>"
            self.emit("NewCallerid", ch.headers() + [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
            self._connected_line(ch, ch.caller_num, ch.caller_name)
        self.emit("DialBegin", ch.headers("Dest") + [("DialString", resource)])
        try:
            answered = await self._ring(ch, spec, behaviour, report)
            if answered:
                await self._agent_dialplan(ch, spec, behaviour)
        finally:
            if not ch.destroyed.is_set() and not self._stopping:
                if not ch.gone.is_set():
                    ch.hangup_cause = 16
                self._finish(ch, h_exten=False)

    async def _ring(self, ch: SimChannel, spec: OriginateSpec, b: AgentBehaviour, report: Callable[[str, str, int, str], None]) -> bool:
        timeout = spec.timeout_s
        if b.unreachable:  # no provisional response: nothing to CANCEL, Reason 3 at the Timeout
            if await self._first(ch.gone, timeout=timeout) is None:
                ch.hangup_cause = 19
                report("Failure", spec.dial, 3, ch.uniqueid)
            else:
                report("Failure", spec.dial, 0, ch.uniqueid)
            self._finish(ch, h_exten=False)
            return False
        if b.busy:
            await self.time.sleep(BUSY_DELAY_S)
            ch.hangup_cause = 17
            report("Failure", spec.dial, 5, ch.uniqueid)
            self._finish(ch, h_exten=False, tech_cause="486")
            return False
        if await self._first(ch.gone, timeout=RING_DELAY_S) is None:
            self.set_state(ch, ChannelState.RINGING)  # the most frequent recorded order: Newstate,
            self.emit("DialState", ch.headers("Dest") + [("DialStatus", "RINGING")])  # DeviceStateChange, DialState
        wait = timeout if b.answer_after_s is None else min(b.answer_after_s, timeout)
        if not ch.gone.is_set():
            await self._first(ch.gone, timeout=max(0.0, wait - RING_DELAY_S))
        if ch.gone.is_set():  # cancelled: AMI Hangup by our ChannelId
            self.emit("DialEnd", ch.headers("Dest") + [("DialStatus", "NOANSWER")])
            report("Failure", spec.dial, 0, ch.uniqueid)
            self._finish(ch, h_exten=False)
            return False
        if b.answer_after_s is None or b.answer_after_s >= timeout:  # RONA
            ch.hangup_cause = 19
            report("Failure", spec.dial, 3, ch.uniqueid)
            self._finish(ch, h_exten=False, tech_cause="480")
            return False
        ch.answered = self.time.now()
        ch.state = ChannelState.UP
        self.emit("Newstate", ch.headers())
        self.emit("DialEnd", ch.headers("Dest") + [("DialStatus", "ANSWER")])
        if spec.context == "acd-connect" and not spec.application:
            self.step(ch, "acd-connect", spec.exten, 1, "AGI", f"agi://{self.agi_host}:{self.agi_port}/claim")
        report("Success", ch.name, 4, ch.uniqueid)
        self._update_device(ch.endpoint)  # recorded: INUSE comes after DialEnd and the first Newexten
        return True

    async def _callback_dialplan(self, ch: SimChannel, spec: OriginateSpec) -> None:
        """``[acd-callback]``: the claim, then ``Dial(PJSIP/<number>@trunk,60)`` from the agent leg."""
        ctx, ext = "acd-callback", spec.exten
        self.step(ch, ctx, ext, 1, "AGI", f"agi://{self.agi_host}:{self.agi_port}/claim")
        await AgiSession(self, ch, "claim", None).run()
        if ch.gone.is_set():
            self._finish(ch, h_exten=True)
            return
        claim = ch.variables.get("ACD_CLAIM", "")
        self.step(ch, ctx, ext, 2, "GotoIf", f"{int(claim != 'ok')}?lost")
        if claim == "ok":
            self.step(ch, ctx, ext, 3, "Dial", f"PJSIP/{ext}@trunk,60")
            self.callbacks_dialled.append(ext)
            await self.dial(ch, f"PJSIP/{ext}@trunk,60")
            if ch.gone.is_set():
                self._finish(ch, h_exten=True)
                return
        self.step(ch, ctx, ext, 4 if claim == "ok" else 5, "Hangup", "")
        self.request_hangup(ch, cause=16, by="pbx", soft_cause=16)
        self._finish(ch, h_exten=True)

    async def _agent_dialplan(self, ch: SimChannel, spec: OriginateSpec, b: AgentBehaviour) -> None:
        if spec.application:
            await self._agent_application(ch, spec)
            return
        if spec.context == "acd-callback":
            await self._callback_dialplan(ch, spec)
            return
        if spec.context != "acd-connect":
            log.warn_event("sim.originate.unknown_context", context=spec.context)
            self.request_hangup(ch, cause=16, by="pbx", soft_cause=16)
            self._finish(ch, h_exten=False)
            return
        ctx, ext = "acd-connect", spec.exten
        await AgiSession(self, ch, "claim", None).run()
        if ch.gone.is_set():
            self._finish(ch, h_exten=True)
            return
        claim = ch.variables.get("ACD_CLAIM", "")
        self.step(ch, ctx, ext, 2, "GotoIf", f"{int(claim != 'ok')}?lost")
        if claim != "ok":
            self.step(ch, ctx, ext, 5, "Hangup", "")
            self.request_hangup(ch, cause=16, by="pbx", soft_cause=16)
            self._finish(ch, h_exten=True)
            return
        target = ch.variables.get("ACD_CALLER", "")
        options = ch.variables.get("ACD_BRIDGE_OPTS") or "x"  # ${IF($["${ACD_BRIDGE_OPTS}" = ""]?x:...)}
        self.step(ch, ctx, ext, 3, "Bridge", f"{target},{options}")
        result = self.bridge_with_caller(ch, target)
        if result == "SUCCESS":
            if b.talk_s is not None:
                self.spawn(self._hang_up_later(ch, b.talk_s, "agent"), f"sim-agent-talk-{ch.uniqueid}")
            await self._first(ch.gone, ch.left_bridge)
            if ch.gone.is_set():  # the agent hung up (or was hung up): x hangs up the caller too, F() moves it on
                bridge = ch.bridge
                self._leave_bridge(ch)
                caller = bridge.channels[0] if bridge is not None and bridge.channels else None
                if caller is not None:
                    self._leave_bridge(caller)
                if ch.hung_up_by == "agent":
                    self.emit("SoftHangupRequest", ch.headers() + [("Cause", "16")])
                if bridge is not None:
                    self._dissolve(bridge)
                self._finish(ch, h_exten=True)
                if caller is not None and not caller.gone.is_set():
                    place = _bridge_continue_at(options)
                    if place is not None:  # Bridge F(context^exten^priority): the caller goes on there
                        caller.variables["__goto__"] = ",".join(place)
                        caller.async_goto.set()
                    else:
                        caller.hangup_cause, caller.hung_up_by = 16, ch.hung_up_by or "agent"
                        caller.gone.set()
                return
        self.set_channel_variable(ch, "BRIDGERESULT", result)
        self.step(ch, ctx, ext, 4, "Hangup", "")
        self.request_hangup(ch, cause=16, by=ch.hung_up_by or "pbx", soft_cause=16)
        self._finish(ch, h_exten=True)

    async def _agent_application(self, ch: SimChannel, spec: OriginateSpec) -> None:
        """Originate with Application/Data instead of a context (Wait, Playback, ChanSpy...)."""
        if spec.application.lower() == "chanspy":
            from acd.sim.chanspy import run_chanspy

            await run_chanspy(self, ch, spec)
            return
        self.step(ch, ch.context, ch.exten, 1, spec.application, spec.data)
        seconds = float(spec.data) if spec.application.lower() == "wait" and spec.data else 1.0
        await self._first(ch.gone, timeout=seconds)
        if not ch.gone.is_set():
            ch.hangup_cause = 16
        self._finish(ch, h_exten=False)


def _bridge_continue_at(options: str) -> tuple[str, str, str] | None:
    """The place of Bridge's ``F(context^exten^priority)`` option, if given."""
    start = options.find("F(")
    if start < 0:
        return None
    parts = options[start + 2:options.index(")", start)].split("^")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


@dataclass(frozen=True)
class OriginateSpec:
    dial: str
    context: str = ""
    exten: str = "s"
    priority: int = 1
    application: str = ""
    data: str = ""
    timeout_s: float = 30.0
    channel_id: str | None = None
    caller_num: str = ""
    caller_name: str = ""
    variables: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_headers(cls, get: Callable[[str], str | None], variables: list[str]) -> OriginateSpec:
        name, num = _split_callerid(get("CallerID") or "")
        pairs = []
        for v in variables:
            for item in v.split(","):
                k, sep, val = item.partition("=")
                if sep:
                    pairs.append((k.strip(), val))
        return cls(
            dial=get("Channel") or "", context=get("Context") or "", exten=get("Exten") or "s",
            priority=int(get("Priority") or 1), application=get("Application") or "", data=get("Data") or "",
            timeout_s=int(get("Timeout") or 30000) / 1000, channel_id=get("ChannelId") or None,
            caller_num=num, caller_name=name, variables=tuple(pairs),
        )
