"""The ACD service: a thin driver around the pure core (``acd.routing.core.AcdCore``).

Inputs from AMI, FastAGI, HTTP and the timer wheel become typed events (``acd.routing.inputs``),
are appended to the event log, then handled by the core; the commands it returns are carried
out (``acd.service.dispatch``): the agent's leg — Originate, Hangup, the claim, the shared
reservations, MixMonitor — in ``acd.service.legs``, the waiting caller's FastAGI session in
``acd.service.waiting``, the record and the push stream in ``acd.service.observers``. This
module holds the one way in (``submit``), the lifecycle, the desk's inputs and the views. No ACD
policy lives here.

As measured on Asterisk 22 (shared/asterisk/connect/FINDINGS.md §9): the caller waits inside its
FastAGI session; the agent is rung by an async ``Originate`` with our ``ChannelId`` (the offer
id); the answered leg's FastAGI ``claim`` lets one leg per caller reach ``Bridge()``; the caller's
``BridgeEnter`` is the connected signal.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from collections.abc import Callable, Sequence

from acd.agi.channel import AgiChannel
from acd.ami import AmiClient
from acd.clock import Clock
from acd.eventlog import FencingToken
from acd.eventlog.timing import STOP_TIMEOUT_S, stop_tasks
from acd.livestate import LiveStore, MemoryLiveStore
from acd.ports import CallTimeline, InteractionRecorder
from acd.routing import inputs as ev
from acd.routing.commands import Command, Ring
from acd.routing.config import DeskCatalogue
from acd.routing.core import AcdCore, IllegalTransition, NotInWrapUp  # noqa: F401 - re-exported for the HTTP errors
from acd.routing.model import AgentConfig, AgentState, CallEntry, QueueConfig
from acd.service import dispatch
from acd.service.amiedge import AmiEdge
from acd.service.journal import Journal
from acd.service.legs import AgentLegs
from acd.service.liveconfig import LiveConfig
from acd.service.replica import Replica
from acd.service.observers import RecordObserver
from acd.service.timers import TimerWheel
from acd.service.waiting import WaitingRoom
from acd.telemetry import Telemetry

class InvalidChoice(ValueError):
    """A reason or disposition that is not in the desk catalogue (``config/desk.yaml``)."""

    def __init__(self, field_name: str, value: str, codes: Sequence[str] = ()) -> None:
        message = f"{field_name}: {value!r} is not in the catalogue"
        if codes:  # a label typed for its code ('Lunch' for lunch) is the likely slip
            import difflib

            close = [c for c in codes if c.lower() == value.lower()] or difflib.get_close_matches(value.lower(), list(codes), n=1)
            message += " of config/desk.yaml" + (f" (did you mean {close[0]!r}?)" if close else f" (one of {', '.join(codes)})")
        super().__init__(message)
        self.field = field_name
        self.value = value


class AcdService:
    """One node's driver of the core: every input goes in by ``submit``; the parts that carry
    out commands (``legs``, ``room``, ``timers``, ``observer``) and read AMI (``edge``) share it."""

    def __init__(
        self,
        core: AcdCore,
        ami: AmiClient,
        recorder: CallTimeline,
        telemetry: Telemetry,
        clock: Clock,
        *,
        connect_context: str = "acd-connect",
        callback_context: str = "acd-callback",
        recordings_dir: str = "/var/spool/asterisk/monitor",
        record_calls: bool = True,
        rona_recover_s: float = 30.0,
        bridge_grace_s: float = 2.0,
        moh_margin_s: float = 30.0,
        store: LiveStore | None = None,
        node_id: str = "node-1",
        config: LiveConfig | None = None,
        emit: Callable[[str, dict[str, Any]], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.core = core
        self.ami = ami
        self.recorder = recorder
        self.telemetry = telemetry
        self.clock = clock
        self.connect_context = connect_context
        self.callback_context = callback_context
        self.recordings_dir = recordings_dir.rstrip("/")
        self.record_calls = record_calls
        self.store: LiveStore = store or MemoryLiveStore(clock)
        self.node_id = node_id
        self._config = config  # config/desk.yaml's reasons and dispositions, as last (re)loaded
        self.emit = emit or (lambda kind, data: None)  # push to the live stream (HTTP API)
        self.journal = journal or Journal()
        self.core.rona_recover_s = rona_recover_s  # before the first event: the journal starts here
        self.timers = TimerWheel(clock, self._timer_fired)
        self.observer = RecordObserver(core, telemetry, self.emit)
        # record observers that only push to the live stream (the wallboards' queue feed): fed by
        # the recorder on the node that writes the record, by ``carry_out`` on the others
        self.feeds: list[InteractionRecorder] = []
        self.room = WaitingRoom(self, bridge_grace_s=bridge_grace_s, moh_margin_s=moh_margin_s)
        self.edge = AmiEdge(self)
        self.legs = AgentLegs(self)  # the agent's leg: reserve, Originate, cancel, claim
        self._tasks: set[asyncio.Task[Any]] = set()
        self.routing_paused = False
        self.replica: Replica | None = None  # set by ``share_log``: several nodes on one Redis log

    # ------------------------------------------------------------------ the one way in
    def submit(self, event: ev.AcdInput) -> list[Command]:
        """Append the event to the log, let the core handle it, carry out what it says. With a
        shared log the input goes to the leader's pipeline (or the inbox) and [] comes back: the
        commands follow once the log holds the input."""
        if self.replica is not None:
            self.replica.submit(event)
            return []
        position = self.journal.append_now(event)
        started = time.perf_counter()
        commands = self.core.handle(event)
        if any(isinstance(c, Ring) for c in commands):
            self.telemetry.routing_decision(time.perf_counter() - started)
        self.journal.applied(position, self.core)
        self.carry_out(commands, lead=True)
        return commands

    def _timer_fired(self, timer_id: str) -> None:
        self.submit(ev.TimerFired(self.clock.now(), timer_id))

    async def settled(self, timeout_s: float = 3.0) -> bool:
        """Every input this node submitted has been applied to its core (at once on one node)."""
        return True if self.replica is None else await self.replica.settled(timeout_s)

    def share_log(self, replica: Replica) -> None:
        """Run as one node of several (``acd.service.replica``); before ``start``."""
        self.replica = replica

    def carry_out(self, commands: list[Command], *, lead: bool) -> None:
        """Carry out the core's commands for one input (``acd.service.dispatch``): what acts
        first, then the records and pushes; on a node that does not lead, only the pushes."""
        dispatch.carry_out(self, commands, lead=lead)

    @property
    def catalogue(self) -> DeskCatalogue:
        """config/desk.yaml's reasons and dispositions, as last (re)loaded."""
        return self._config.desk if self._config is not None else DeskCatalogue()

    @property
    def token(self) -> FencingToken | None:
        """The leader's fencing token for the shared store (None on a single node)."""
        return self.replica.token if self.replica is not None else None

    def may_act(self) -> bool:
        """Whether this node may send anything to Asterisk now: a single node always; with a
        shared log only while it holds the lease (checked locally: a paused node wakes up not
        leader)."""
        return self.replica is None or self.replica.is_leader

    def now(self) -> float:
        return self.clock.now()

    @property
    def moh_margin_s(self) -> float:
        """How late a music slice may end before the caller's session is declared broken."""
        return self.room.moh_margin_s

    @moh_margin_s.setter
    def moh_margin_s(self, seconds: float) -> None:
        self.room.moh_margin_s = seconds

    @property
    def rona_recover_s(self) -> float:
        return self.core.rona_recover_s

    @rona_recover_s.setter
    def rona_recover_s(self, seconds: float) -> None:
        self.apply_config((), (), rona_recover_s=seconds)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for q in self.core.queues.values():
            self.telemetry.set_queue_targets(q.name, q.service_level_s, q.service_level_goal)
        self.telemetry.add_scrape_hook(self.publish)
        if self.replica is not None:
            await self.replica.start()  # the core from the log; AMI and routing once it leads
            return
        self.edge.subscribe()
        self.on_leading()

    def on_leading(self) -> None:
        """This node routes from now on (at start, or on taking the lease over)."""
        self.telemetry.leader(True)
        if self.replica is not None and self.journal.position is None:
            # an empty shared log starts with the configuration: every replica takes its ids from it
            self.submit(ev.ConfigApplied(self.now(), tuple(self.core.queues.values()), tuple(a.config for a in self.core.agents.values()),
                                         rona_recover_s=self.core.rona_recover_s, id_prefix=self.core.id_prefix))
        for agent in list(self.core.agents.values()):
            if agent.config.auto_ready and agent.state == AgentState.LOGGED_OUT:
                self.submit(ev.AgentLogin(self.now(), agent.id, by="auto_ready"))

    async def stop(self) -> None:
        """A clean stop: ringing legs are cancelled (and waited for, bounded), calls closed on
        the record, agents logged out; then every task of this service ends. One node of several
        hands the lease over instead: the calls and agents carry on with the next leader."""
        if self.replica is not None:
            await self.replica.stop()
            await self._end_tasks()
            return
        self.edge.unsubscribe()
        self.submit(ev.EngineStopping(self.now()))
        cancels = [t for t in self._tasks if t.get_name().startswith("acd-cancel-")]
        if cancels:
            await asyncio.wait(cancels, timeout=2.0)
        await self._end_tasks()

    async def _end_tasks(self) -> None:
        self.timers.cancel_all()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await stop_tasks(tasks, STOP_TIMEOUT_S, f"acd-service-{self.node_id}")

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ FastAGI: the caller, the agent leg
    async def wait_in_queue(self, channel: AgiChannel, entry: CallEntry) -> str:
        """Hold the caller in music and announcements until the core ends the wait: returns
        ``answered``, ``abandoned``, ``timeout``, ``full``, ``empty`` or ``callback``."""
        return await self.room.wait(channel, entry)

    async def handle_claim(self, channel: AgiChannel) -> None:
        """The answered agent leg's claim (``AgentLegs.handle_claim``)."""
        await self.legs.handle_claim(channel)

    # ------------------------------------------------------------------ the agent's desk
    def _desk(self, event: ev.AcdInput) -> None:
        self.core.validate(event)
        self.submit(event)

    def login(self, agent_id: str, ready: bool = True, *, by: str | None = None) -> None:
        self._desk(ev.AgentLogin(self.now(), agent_id, ready, by=by))

    def logout(self, agent_id: str, *, by: str | None = None) -> None:
        """Only from ready, not ready or wrap-up: a call in progress (or ringing) finishes first."""
        self._desk(ev.AgentLogout(self.now(), agent_id, by=by, forced=by not in (None, agent_id)))

    def set_ready(self, agent_id: str, *, by: str | None = None) -> None:
        self._desk(ev.AgentReady(self.now(), agent_id, by=by))

    def set_not_ready(self, agent_id: str, reason: str, *, by: str | None = None, after_call: bool = False) -> None:
        """A pause with a reason from the catalogue. A ringing offer is withdrawn and its leg
        cancelled; with ``after_call`` an agent on a call is paused when it is done."""
        if self.catalogue.reason(reason) is None:
            raise InvalidChoice("reason", reason, [r.code for r in self.catalogue.not_ready_reasons])
        self._desk(ev.AgentNotReady(self.now(), agent_id, reason, by=by, after_call=after_call))

    def set_not_ready_after_call(self, agent_id: str, reason: str, *, by: str | None = None) -> None:
        self.set_not_ready(agent_id, reason, by=by, after_call=True)

    def finish_wrapup(self, agent_id: str, disposition: str, notes: str | None = None, *, ready: bool = True) -> str:
        """The agent gives the call its disposition (and notes); returns the call id."""
        if self.catalogue.disposition(disposition) is None:
            raise InvalidChoice("disposition", disposition, [d.code for d in self.catalogue.dispositions])
        call_id = self.core.wrapups.get(self.core.agent(agent_id).id)
        self._desk(ev.WrapUpFinished(self.now(), agent_id, disposition, (notes or "").strip()[:2000] or None, ready))
        assert call_id is not None  # validate() refused an agent not in wrap-up
        return call_id

    def extend_wrapup(self, agent_id: str, seconds: float) -> None:
        """More after-call work time: the timer restarts with ``seconds`` left."""
        if not 0 < seconds <= 3600:
            raise InvalidChoice("seconds", str(seconds))
        self._desk(ev.WrapUpExtended(self.now(), agent_id, seconds))

    def book_callback(self, call_id: str, queue: str, number: str, *, preferred_agent: str | None = None, sticky_s: float = 0.0,
                      customer_id: str | None = None, priority: int = 0, task_id: str | None = None) -> None:
        """An outbound call-back nobody waits on the line for (a follow-up task fell due): it
        joins ``queue`` as a callback; ``preferred_agent`` alone is rung for ``sticky_s``, then
        anyone; the agent's leg then dials ``number`` (the core's policy decides, in acd.routing)."""
        self.submit(ev.CallbackBooked(self.now(), call_id, queue, number, preferred_agent, sticky_s, customer_id, priority, task_id))

    def wrapup_call(self, agent_id: str) -> str | None:
        return self.core.wrapups.get(agent_id)

    def wrapup_entry(self, agent_id: str) -> CallEntry | None:
        call_id = self.core.wrapups.get(agent_id)
        live = self.core.live.get(call_id or "")
        return live.entry if live else None

    @property
    def connected_entries(self) -> dict[str, CallEntry]:
        """Connected calls' entries, by call id (the screen-pop)."""
        return {cid: live.entry for cid, live in self.core.live.items() if live.ended_at is None}

    def apply_config(self, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], *, rona_recover_s: float | None = None) -> list[Command]:
        """Queues and agents changed in ``config/`` (or by the API): applied live through the
        log; calls in flight keep their place."""
        recover = self.core.rona_recover_s if rona_recover_s is None else rona_recover_s
        out = self.submit(ev.ConfigApplied(self.now(), tuple(queues), tuple(agents), rona_recover_s=recover, id_prefix=self.core.id_prefix))
        for q in queues:
            self.telemetry.set_queue_targets(q.name, q.service_level_s, q.service_level_goal)
        return out

    # ------------------------------------------------------------------ views
    def live(self) -> dict[str, Any]:
        """The live state for the wallboard and the API."""
        snap = self.core.snapshot(self.now())
        for name, q in snap["queues"].items():
            day = self.telemetry.queue_today(name)
            q.update(answered=day.answered, abandoned=day.abandoned, service_level=day.service_level("answered"), asa_s=day.asa_s, aht_s=day.aht_s)
        return snap

    def publish(self, telemetry: Telemetry) -> None:
        """Scrape hook: queue and agent gauges from the live state."""
        snap = self.core.snapshot(self.now())
        counts: dict[str, int] = {}
        for agent in snap["agents"].values():
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
        telemetry.set_agent_states(counts)
        for name, q in snap["queues"].items():
            logged_in = sum(1 for a in self.core.agents.values() if a.state.value != "logged_out" and self.core.can_serve(a, name))
            available = sum(1 for a in self.core.agents.values() if a.state.value == "ready" and self.core.can_serve(a, name))
            telemetry.set_queue_snapshot(name, q["waiting"], q["longest_wait_s"], logged_in, available)

    async def resync(self) -> int:
        return await self.edge.resync()
