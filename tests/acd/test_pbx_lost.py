"""The PBX dies mid-call (issue #12.3): the simulated Asterisk is killed (its tasks cancelled, no
Hangup sent, as with SIGKILL) and a fresh one comes up on the same AMI port. At the re-sync the
engine ends the lost call where it was last seen alive, not at the re-sync: talk time stops there
and the record marks the end "PBX lost"."""

from __future__ import annotations

from acd import events
from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from acd.store.records import Outcome
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import stored_interaction


async def test_talk_time_stops_where_the_call_was_last_seen_when_the_pbx_dies(make_engine):
    engine = await make_engine(n_agents=1)
    old = engine.pbx
    old.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=None)  # nobody hangs up: the PBX dies first
    call = await old.place_call(CallerScript(caller_id="+447700900888"))
    await wait_until(lambda: call.uniqueid in engine.core.connected, 15)
    engine.ami.reconnect_min = engine.ami.reconnect_max = 1.0  # the re-sync comes a while after the death
    ami_port, agi = old.ami_port, (old.agi_host, old.agi_port)

    killed_at = engine.clock.now()
    await old.stop()  # SIGKILL: no Hangup, no BridgeLeave, the link just drops
    fresh = SimPbx(*agi, ami_port=ami_port, users={engine.settings.pbx.ami.username: engine.settings.pbx.ami.secret})
    await fresh.start()
    try:
        await wait_until(lambda: call.uniqueid not in engine.core.connected, 20)
        timeline = engine.calllog.timeline(call.uniqueid)
        [ended_entry] = [e for e in timeline if e["kind"] == events.Ended.kind]
        ended = events.from_timeline(ended_entry)
        assert isinstance(ended, events.Ended) and ended.pbx_lost
        assert ended.ended_at is not None and ended.ended_at <= killed_at < ended_entry["t"]  # last seen, then the re-sync
        assert engine.core.agents["agent1"].state in (AgentState.WRAP_UP, AgentState.READY)

        rec = await stored_interaction(engine, call.uniqueid)
        assert rec.outcome is Outcome.ANSWERED and rec.ended_by == "pbx_lost"
        assert rec.ended_at == ended.ended_at and rec.ended_at <= killed_at
        assert rec.talk_s is not None and 0 < rec.talk_s <= killed_at - rec.answered_at
    finally:
        await fresh.stop()
