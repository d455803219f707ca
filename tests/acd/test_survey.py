"""The post-call survey end to end over the simulated PBX: a queue with ``survey:`` bridges its
agent legs with ``F(acd-survey^s^1)``; when the agent hangs up, the caller stays on the line,
``[acd-survey]`` runs the survey flow in a new FastAGI session, and the answers land on that
call's record with its customer and agent. A queue without a survey still hangs the caller up
with the agent (``x``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from acd.sim import AgentBehaviour, CallerScript
from acd.store.records import Outcome
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import stored_interaction

pytestmark = pytest.mark.virtual_time

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"
QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false,
     announce_ewt: false, survey: survey}
  - {name: plain, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false,
     announce_ewt: false}
"""
INBOUND = """
flow: inbound
numbers: ["5551234"]
steps:
  look:
    lookup_caller: true
    next: wait
  wait:
    queue: {name: general}
    on: {overflow: bye}
  bye:
    hangup: true
"""
PLAIN = """
flow: plain_line
numbers: ["5559999"]
steps:
  wait:
    queue: {name: plain}
    on: {overflow: bye}
  bye:
    hangup: true
"""


async def _engine(make_engine, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(FLOWS / "survey.yaml", flows / "survey.yaml")
    (flows / "inbound.yaml").write_text(INBOUND)
    (flows / "plain.yaml").write_text(PLAIN)
    engine = await make_engine(n_agents=1, queues=QUEUES, engine_yaml=f"flows:\n  directory: {flows}\n  default_flow: inbound\n")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=150)
    return engine


async def test_the_caller_stays_for_the_survey_and_the_answers_land_on_the_record(make_engine, tmp_path):
    engine = await _engine(make_engine, tmp_path)
    cid = await engine.customers.create_customer(name="Ada Lovelace", phones=["+447700900123"], by="test")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900123", keys="4,1"))
    outcome = await call.finished(400)
    assert outcome.connected and outcome.surveyed and outcome.hung_up_by == "engine"  # the survey flow's hangup step
    assert "acme/survey-rate-us-1-to-5" in outcome.prompts and outcome.prompts[-1] == "acme/survey-thank-you"
    assert outcome.digits_sent == "41"

    async def surveyed():
        rec = await stored_interaction(engine, call.uniqueid)
        return rec if rec is not None and rec.survey is not None else None

    await wait_until(lambda: any(e["kind"] == "survey" for e in engine.calllog.timeline(call.uniqueid)), 10)
    rec = None
    for _ in range(50):
        rec = await surveyed()
        if rec is not None:
            break
        await engine.records.drain()
    assert rec is not None and rec.outcome is Outcome.ANSWERED
    assert rec.survey["answers"] == {"csat": 4, "resolved": 1} and rec.survey["completed"] and rec.survey["flow"] == "survey"
    assert rec.survey["agent"] == "agent1" and rec.agent == "agent1" and rec.customer_id == cid
    assert all(s.get("flow") != "survey" for s in rec.ivr_path)  # the survey is not the call's IVR path
    kinds = [e["kind"] for e in engine.calllog.timeline(call.uniqueid)]
    assert kinds.index("ended") < kinds.index("survey_start") < kinds.index("survey")
    metrics = engine.telemetry.render().decode()
    assert 'acd_csat_surveys_total{agent="agent1",queue="general"} 1.0' in metrics
    assert 'acd_csat_satisfied_total{agent="agent1",queue="general"} 1.0' in metrics
    from acd.reports.compute import UTC
    from acd.reports.quality_load import quality_report

    report = await quality_report(engine.customers, rec.started_at - 60, rec.started_at + 3600, as_of=engine.clock.now(),
                                  fcr_days=7, satisfied_min=4, tz=UTC)
    assert [(r.key, r.surveys, r.csat, r.fcr_pending) for r in report.queues] == [("general", 1, 1.0, 1)]
    # the next call of the customer: the screen-pop shows how the last one went
    await wait_until(lambda: engine.core.agents["agent1"].state.value == "ready", 120)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900123", keys="5,1"))
    await wait_until(lambda: engine.core.agents["agent1"].state.value == "on_call", 120)
    pop = (await engine.desk.work("agent1"))["call"]
    assert pop["customer"]["customer_id"] == cid
    assert pop["last_survey"] == {"score": 4, "out_of": 5, "call_id": call.uniqueid, "at": rec.survey["at"], "agent": "agent1",
                                  "queue": "general"}


async def test_a_queue_without_a_survey_hangs_the_caller_up_with_the_agent(make_engine, tmp_path):
    engine = await _engine(make_engine, tmp_path)
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900124", dnis="5559999", keys="4,1"))
    outcome = await call.finished(400)
    assert outcome.connected and not outcome.surveyed and outcome.hung_up_by == "agent"
    assert "survey_start" not in [e["kind"] for e in engine.calllog.timeline(call.uniqueid)]
