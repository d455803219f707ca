"""No agent leg left ringing by an engine that is gone (issue #12.2), over the simulated PBX.

An engine killed (SIGKILL, a real process) while its Originate rings an agent: the next engine,
on the same PBX and record, hangs the leg up in its first re-sync (not at the Originate's
timeout), ends the offer on the caller's record as ``engine_lost_call`` and leaves the agent
ready. After a takeover the new leader's core owns the ringing leg: it is kept. And a bad
``users.yaml`` stops ``acd serve`` before the PBX hears anything."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from acd import events
from acd.ami.actions import core_show_channels, status
from acd.app import run_engine
from acd.routing.model import AgentState
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.acd.conftest import drop_redis_keys, wait_until
from tests.acd.test_reconcile import spooled
from tests.acd.test_two_nodes import free_port, node_config, port_open
from tests.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
RING_TIMEOUT_S = 60  # far longer than any test waits: a leg ended before it was hung up by the engine


def this_tree() -> dict[str, str]:
    """The environment for an engine process that runs this source tree (not the installed one)."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def ringing_config(base: Path, ami_port: int, agi_port: int, users_yaml: str | None = None) -> Path:
    conf = base / "conf"
    conf.mkdir(exist_ok=True)
    shutil.copy(ROOT / "config" / "desk.yaml", conf / "desk.yaml")
    (conf / "queues.yaml").write_text(f"queues:\n  - {{name: general, skills: {{general: 1}}, ring_timeout_s: {RING_TIMEOUT_S}, wrapup_s: 1, "
                                      "moh_slice_s: 1, announce_position: false, announce_ewt: false}\n")
    (conf / "agents.yaml").write_text("agents:\n  - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 1}, auto_ready: true}\n")
    if users_yaml is not None:
        (conf / "users.yaml").write_text(users_yaml)
    (conf / "engine.yaml").write_text(textwrap.dedent(f"""\
        pbx:
          mode: asterisk
          ami: {{host: 127.0.0.1, port: {ami_port}, username: acd, secret: secret}}
          agi: {{host: 127.0.0.1, port: {agi_port}}}
        database: {{url: 'sqlite+aiosqlite:///{base}/acd.sqlite3', spool_dir: '{base}/spool'}}
        flows: {{directory: ''}}
        http: {{port: 0}}
        """))
    return conf


def long_ring_node(base: Path, node: str, ami_port: int, agi_port: int, prefix: str) -> Path:
    """tests/acd/test_two_nodes.py's node, with a ring timeout no takeover outlasts."""
    conf = node_config(base, node, ami_port, agi_port, prefix)
    queues = conf / "queues.yaml"
    queues.write_text(queues.read_text().replace("ring_timeout_s: 8", f"ring_timeout_s: {RING_TIMEOUT_S}"))
    return conf


def engine_hangups(pbx: SimPbx) -> list[str]:
    return [dict(a.headers).get("Channel", "") for a in pbx.ami.actions_seen if a.name.lower() == "hangup"]


async def test_a_leg_left_ringing_by_a_killed_engine_is_hung_up_by_the_next_one(tmp_path):
    agi_port = free_port()
    pbx = SimPbx("127.0.0.1", agi_port, users={"acd": "secret"}, agents={"agent1": AgentBehaviour.never_answer()})
    pbx.sound_seconds = lambda name: 0.2
    # as docker/asterisk/pjsip.conf has it: the ringing leg makes agent1's device BUSY in the
    # re-sync's device list (a real Asterisk 22 paused the free agent as busy for good)
    pbx.device_state_busy_at = 1
    await pbx.start()
    conf = ringing_config(tmp_path, pbx.ami_port, agi_port)
    log = tmp_path / "engine.log"
    old = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(conf)], cwd=tmp_path, env=this_tree(),
                           stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        for _ in range(300):
            if await port_open(agi_port) and "engine.started" in log.read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the engine did not start:\n" + log.read_text()[-3000:])
        call = await pbx.place_call(CallerScript(caller_id="+447700900777", fallback_patience_s=120))
        await wait_until(lambda: events.OfferRang.kind in spooled(tmp_path, call.uniqueid), 20)  # agent1's phone rings
        [leg] = [c for c in pbx.channels.values() if c.kind == "agent" and not c.destroyed.is_set()]
        old.send_signal(signal.SIGKILL)  # mid-ring: nobody hangs the leg up on the way out
        old.wait(10)
        assert not leg.destroyed.is_set() and engine_hangups(pbx) == []

        async with run_engine(load_settings(conf, environ={})) as engine:
            await wait_until(lambda: leg.uniqueid in engine.acd.edge.orphans.hung_up, 20)
            await asyncio.wait_for(leg.destroyed.wait(), 10)
            await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.READY, 10)
            await engine.records.drain()
            rec = await engine.customers.interaction(call.uniqueid)
            timeline = [events.from_timeline(e) for e in await engine.customers.timeline(call.uniqueid)]
            spans = await engine.customers.agent_spans_between(0, 4e9)
            agent1_state = engine.core.agents["agent1"].state
            assert not engine.core.offers  # the new engine never owned it and rang nobody
        assert engine_hangups(pbx) == [leg.uniqueid]  # hung up by the engine, by its ChannelId
        [ended] = [e for e in pbx.events_named("OriginateResponse") if e.get("Uniqueid") == leg.uniqueid]
        assert ended.get("Reason") == "0"  # cancelled, not the ring timeout (Reason 3, Hangup cause 19)
        assert [e.get("Cause") for e in pbx.events_named("Hangup") if e.get("Uniqueid") == leg.uniqueid] == ["16"]
        [cancelled] = [e for e in timeline if isinstance(e, events.OfferCancelled)]
        assert (cancelled.offer, cancelled.agent, cancelled.reason) == (leg.uniqueid, "agent1", "engine_lost_call")
        assert [(o.agent, o.outcome) for o in rec.offers] == [("agent1", "cancelled")]
        assert agent1_state == AgentState.READY  # not blamed: never paused for the dead engine's leg
        assert spans is not None and "not_ready" not in {s.state for s in spans if s.agent == "agent1"}
        call.hangup()
        await call.finished(10)
    finally:
        if old.poll() is None:
            old.kill()
        await pbx.stop()


async def test_a_takeover_keeps_the_leg_the_new_leaders_core_owns(tmp_path):
    prefix = f"acdtest:{uuid.uuid4().hex}"
    port_a, port_b = free_port(), free_port()
    agi_address = await TcpProxy("127.0.0.1", port_a, ("127.0.0.1", port_b)).start()
    pbx = SimPbx("127.0.0.1", agi_address.port, users={"acd": "secret"}, agents={
        "agent1": AgentBehaviour.never_answer(), "agent2": AgentBehaviour.never_answer()})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    log_a = tmp_path / "node-a.log"
    node_a = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(long_ring_node(tmp_path, "node-a", pbx.ami_port, port_a, prefix))],
                              cwd=tmp_path, env=this_tree(), stdout=subprocess.DEVNULL, stderr=open(log_a, "w"))
    try:
        for _ in range(200):
            if await port_open(port_a) and "engine.started" in log_a.read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("node A did not start:\n" + log_a.read_text()[-3000:])
        settings_b = load_settings(long_ring_node(tmp_path, "node-b", pbx.ami_port, port_b, prefix), environ={})
        async with run_engine(settings_b) as node_b:
            call = await pbx.place_call(CallerScript(caller_id="+447700900888", fallback_patience_s=120))
            await wait_until(lambda: sum(pbx.agent_offers.values()) == 1 and len(node_b.core.offers) == 1, 15)  # node A rings
            [offer_id] = list(node_b.core.offers)  # in B's hot copy of the log
            [leg] = [c for c in pbx.channels.values() if c.kind == "agent" and not c.destroyed.is_set()]
            assert leg.uniqueid == offer_id
            node_a.send_signal(signal.SIGKILL)
            node_a.wait(10)

            await wait_until(lambda: node_b.acd.replica is not None and node_b.acd.replica.leading, 20)
            await wait_until(lambda: offer_id in node_b.acd.edge.orphans.kept, 10)  # B's re-sync saw the leg, and kept it
            assert not node_b.acd.edge.orphans.hung_up
            assert offer_id not in engine_hangups(pbx) and not leg.destroyed.is_set()  # still ringing
            assert offer_id in node_b.core.offers
            call.hangup()  # the caller gives up: B, which owns the leg, cancels it as usual
            await asyncio.wait_for(leg.destroyed.wait(), 10)
            assert engine_hangups(pbx) == [offer_id]
    finally:
        if node_a.poll() is None:
            node_a.kill()
        await pbx.stop()
        await agi_address.stop()
        await drop_redis_keys(prefix)


async def test_serve_refuses_a_bad_users_file_before_the_pbx_hears_anything(tmp_path):
    agi_port = free_port()
    pbx = SimPbx("127.0.0.1", agi_port, users={"acd": "secret"}, agents={"agent1": AgentBehaviour.never_answer()})
    await pbx.start()
    try:
        conf = ringing_config(tmp_path, pbx.ami_port, agi_port, users_yaml="users:\n  - {id: ann, name: Ann, role: agent, agent_id: nobody}\n")
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "acd", "serve", "--config", str(conf), cwd=tmp_path, env=this_tree(),
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode != 0
        assert f"{conf}/users.yaml:2:" in err.decode() and "'nobody' is not in agents.yaml" in err.decode()
        assert pbx.ami.actions_seen == []  # no login, no agent set ready, no re-sync
    finally:
        await pbx.stop()


@pytest.mark.virtual_time
async def test_a_leg_whose_cancel_was_lost_with_the_ami_link_is_hung_up_at_the_reconnect(make_engine):
    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour.never_answer()
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.RINGING, 30, step=0.01)
    [offer_id] = list(engine.core.offers)
    leg = engine.pbx.channels[offer_id]
    engine.pbx.ami.drop_all(down_for_s=5.0)  # the queue rings for 20 s: the link is back long before
    call.hangup()  # the engine hears it on the FastAGI session; its Hangup of the leg cannot go out
    await wait_until(lambda: not engine.core.offers, 5, step=0.01)
    assert not leg.destroyed.is_set()
    await asyncio.wait_for(leg.destroyed.wait(), 15)
    assert list(engine.acd.edge.orphans.hung_up) == [offer_id]
    [ended] = [e for e in engine.pbx.events_named("OriginateResponse") if e.get("Uniqueid") == offer_id]
    assert ended.get("Reason") == "0"  # hung up at the reconnect, not at the ring timeout (Reason 3)
    cancels = [e for e in engine.calllog.timeline(call.uniqueid) if e["kind"] == events.OfferCancelled.kind]
    assert len(cancels) == 1 and cancels[0]["reason"] != "engine_lost_call"  # the core's own, recorded once
    assert engine.core.agents["agent1"].state == AgentState.READY


OBSERVED = ROOT.parent / "shared" / "asterisk" / "observed" / "caller_hangs_up_while_agent_rings.ami.jsonl"


@pytest.mark.virtual_time
async def test_the_sim_shows_a_ringing_leg_as_asterisk_22_does(make_engine):
    """What the sweep reads: the leg's listing (AppDial2, Ringing, no bridge, Uniqueid = the
    ChannelId) and its ACD_OFFER/ACD_CALLER, as recorded on a real Asterisk 22."""
    real = [json.loads(line) for line in OBSERVED.read_text().splitlines()]
    real_uid = next(e["Uniqueid"] for e in real if e.get("Event") == "OriginateResponse")
    real_leg = [e for e in real if e.get("Uniqueid") == real_uid]
    real_vars = {e["Variable"]: e["Value"] for e in real_leg if e.get("Event") == "VarSet"}
    real_app = next(e for e in real_leg if e.get("Event") == "Newexten")
    real_ringing = next(e for e in real_leg if e.get("Event") == "Newstate")

    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour.never_answer()
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.RINGING, 30, step=0.01)
    [offer_id] = list(engine.core.offers)
    await asyncio.sleep(1.0)  # past the provisional response: the phone rings
    listing = await core_show_channels(engine.acd.ami)
    [sim_leg] = [e for e in listing.events if e.get("Uniqueid") == offer_id]
    assert (sim_leg.get("Application"), sim_leg.get("ApplicationData")) == (real_app["Application"], real_app["AppData"])
    # while it rings the leg is in its endpoint's context (pjsip.conf; "from-agents" on that test
    # bed, [acd-agents] in docker/asterisk), not in the Originate's [acd-connect]
    assert real_app["Context"] != "acd-connect" and sim_leg.get("Context") == engine.pbx.agent_context != "acd-connect"
    assert (sim_leg.get("ChannelState"), sim_leg.get("ChannelStateDesc")) == (real_ringing["ChannelState"], real_ringing["ChannelStateDesc"])
    assert sim_leg.get("BridgeId") == "" and sim_leg.get("Channel", "").startswith("PJSIP/agent1-")
    detail = await status(engine.acd.ami, sim_leg.get("Channel"), ["ACD_OFFER", "ACD_CALLER"])
    sim_vars = dict(v.split("=", 1) for e in detail.events for v in e.headers.get_all("Variable"))
    assert real_vars["ACD_OFFER"] == real_uid and sim_vars["ACD_OFFER"] == offer_id  # the engine's mark on its legs
    assert real_vars["ACD_CALLER"] == next(e["Uniqueid"] for e in real if e.get("Event") == "Newchannel")  # the caller's uniqueid
    assert sim_vars["ACD_CALLER"] == call.uniqueid
    assert not engine.acd.edge.orphans.kept and not engine.acd.edge.orphans.hung_up  # the start's re-sync had nothing to do
