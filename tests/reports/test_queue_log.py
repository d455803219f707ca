"""queue_log lines checked byte for byte against Asterisk's app_queue.c formats."""

from __future__ import annotations

import io

from acd.reports import queue_log
from acd.store.records import Interaction, OfferRecord, Outcome, QueueVisit

from tests.reports.helpers import T0  # 1795424400 = 2026-11-23T09:00:00Z


def calls() -> list[Interaction]:
    answered = Interaction(
        call_id="c-ans", started_at=T0 - 5, uniqueid="1795424395.11", ani="+447700900102",
        queues=[QueueVisit("sales", T0 + 0.4, T0 + 22.1, "answered")],
        offers=[OfferRecord("agent1", T0 + 2.0, 15, "no answer", 15.2), OfferRecord("agent2", T0 + 17.5, 15, "answered", 4.6)],
        agent="agent2", queue="sales", answered_at=T0 + 22.1, wait_s=21.7, talk_s=60.0, hold_s=10.0, wrapup_s=5.0,
        ended_at=T0 + 92.1, outcome=Outcome.ANSWERED)
    abandoned = Interaction(
        call_id="c-abn", started_at=T0, queues=[QueueVisit("sales", T0 + 5.9, T0 + 12.3, "abandoned")],
        offers=[OfferRecord("agent3", T0 + 10.0, 15, "cancelled", 2.3)], queue="sales", wait_s=6.4,
        ended_at=T0 + 12.3, outcome=Outcome.ABANDONED_QUEUE)
    timed_out = Interaction(
        call_id="c-tmo", started_at=T0 + 25, ani="12|34",
        queues=[QueueVisit("sales", T0 + 30, T0 + 630, "timeout"), QueueVisit("support", T0 + 630, T0 + 700, "callback")],
        queue="support", callback_requested=True, ended_at=T0 + 700, outcome=Outcome.CALLBACK)
    return [answered, abandoned, timed_out]


EXPECTED = (
    "1795424400|1795424395.11|sales|NONE|ENTERQUEUE||+447700900102|1\n"
    "1795424405|c-abn|sales|NONE|ENTERQUEUE|||2\n"
    "1795424412|c-abn|sales|agent3|RINGCANCELED|2300\n"
    "1795424412|c-abn|sales|NONE|ABANDON|2|2|7\n"
    "1795424417|1795424395.11|sales|agent1|RINGNOANSWER|15200\n"
    "1795424422|1795424395.11|sales|agent2|CONNECT|22||5\n"
    "1795424430|c-tmo|sales|NONE|ENTERQUEUE||12_34|1\n"
    "1795424492|1795424395.11|sales|agent2|COMPLETECALLER|22|70|1\n"
    "1795425030|c-tmo|sales|NONE|EXITWITHTIMEOUT|1|1|600\n"
    "1795425030|c-tmo|support|NONE|ENTERQUEUE||12_34|1\n"
)


def test_lines_byte_for_byte():
    assert queue_log.render(calls()) == EXPECTED


def test_write_to_a_stream_and_range():
    buf = io.StringIO()
    n = queue_log.write(calls(), buf, start=T0 + 12, end=T0 + 30)
    assert n == 4
    assert buf.getvalue() == "".join(EXPECTED.splitlines(keepends=True)[2:6])


def test_abandon_without_exit_event_uses_the_end_of_the_call():
    rec = Interaction(call_id="x", started_at=T0, queues=[QueueVisit("sales", T0 + 1, None, None)], ended_at=T0 + 9.5,
                      outcome=Outcome.ABANDONED_QUEUE)
    assert queue_log.render([rec]) == ("1795424401|x|sales|NONE|ENTERQUEUE|||1\n"
                                       "1795424409|x|sales|NONE|ABANDON|1|1|8\n")


def test_call_still_talking_has_no_complete_line():
    rec = Interaction(call_id="y", started_at=T0, queues=[QueueVisit("sales", T0, T0 + 3, "answered")], agent="a1", queue="sales",
                      answered_at=T0 + 3, outcome=Outcome.ANSWERED)
    assert queue_log.render([rec]) == ("1795424400|y|sales|NONE|ENTERQUEUE|||1\n"
                                       "1795424403|y|sales|a1|CONNECT|3||0\n")


def test_offer_still_ringing_when_the_caller_abandons_is_ring_canceled():
    rec = Interaction(call_id="z", started_at=T0, queues=[QueueVisit("sales", T0, T0 + 9.7, "abandoned")],
                      offers=[OfferRecord("agent4", T0 + 4.2, 15)], ended_at=T0 + 9.7, outcome=Outcome.ABANDONED_QUEUE)
    assert queue_log.render([rec]) == ("1795424400|z|sales|NONE|ENTERQUEUE|||1\n"
                                       "1795424409|z|sales|agent4|RINGCANCELED|5500\n"
                                       "1795424409|z|sales|NONE|ABANDON|1|1|9\n")


def test_leaving_an_empty_queue_is_exitempty():
    rec = Interaction(call_id="e", started_at=T0, queues=[QueueVisit("sales", T0 + 2, T0 + 33.9, "empty")], ended_at=T0 + 40,
                      outcome=Outcome.ABANDONED_QUEUE)
    assert queue_log.render([rec]) == ("1795424402|e|sales|NONE|ENTERQUEUE|||1\n"
                                       "1795424433|e|sales|NONE|EXITEMPTY|1|1|31\n")


def test_an_agent_hanging_up_first_is_completeagent():
    from acd.reports.queue_log import render
    from acd.store.records import fold

    events = [
        {"kind": "call_start", "t": 100.0, "uniqueid": "u1"},
        {"kind": "queue_enter", "t": 101.0, "queue": "sales"},
        {"kind": "offer", "t": 102.0, "agent": "agent1", "ring_timeout_s": 15},
        {"kind": "connected", "t": 105.0, "agent": "agent1", "queue": "sales", "waited_s": 4.0},
        {"kind": "ended", "t": 165.0, "agent": "agent1", "talk_s": 60.0, "by": "agent"},
    ]
    text = render([fold("u1", events)])
    assert "|agent1|COMPLETEAGENT|4|60|1\n" in text and "COMPLETECALLER" not in text
    events[-1] = {**events[-1], "by": "caller"}
    assert "|agent1|COMPLETECALLER|4|60|1\n" in render([fold("u1", events)])
