"""An Asterisk ``queue_log`` compatible export of interaction records, so that existing queue
reporting tools (which read ``/var/log/asterisk/queue_log`` or its realtime table) work on acd.

Line format, as ``ast_queue_log()`` writes the file (``main/logger.c``)::

    epoch|callid|queuename|agent|event|data1|data2|...

``epoch`` is whole seconds (``time(NULL)``), ``callid`` the caller channel's uniqueid (here
``Interaction.uniqueid``, else the acd call id), ``agent`` the member name or ``NONE``. The data
fields and their order follow ``apps/app_queue.c`` of Asterisk (checked against the master branch,
commit f0c1c1a7, 2026-08-06) and the "Queue Logs" page of the Asterisk documentation
(https://docs.asterisk.org/Operation/Logging/Queue-Logs/):

=================  ====================================  =========================================
event              data (app_queue.c format)             from the interaction
=================  ====================================  =========================================
ENTERQUEUE         url|callerid|origposition ("%s|%s|%d")  ``|<ani>|<opos>`` at ``entered_at``
RINGNOANSWER       ringtime in ms ("%d")                 an offer that ended ``no answer``, ``busy``
                                                         or failed, at ``offered_at + ring_s``
RINGCANCELED       ringtime in ms ("%d")                 an offer ``cancelled``, or still ringing
                                                         when the caller abandoned
CONNECT            holdtime|bridgedchanneluniqueid|      at ``answered_at``; the agent leg's uniqueid
                   ringtime ("%ld|%s|%ld")               is not in the record: left empty
COMPLETECALLER     holdtime|calltime|origposition        at ``ended_at`` (else answered + talk + hold);
                   ("%ld|%ld|%d")                        who hung up is not recorded, so always
                                                         COMPLETECALLER; calltime = talk + hold
ABANDON            position|origposition|waittime        a visit left with ``abandoned``
                   ("%d|%d|%ld")
EXITWITHTIMEOUT    position|origposition|waittime        a visit left with ``timeout`` or
                   ("%d|%d|%ld")                         ``overflow`` (the queue's time limit)
EXITEMPTY          position|origposition|waittime        a visit left with ``empty`` (the queue's
                   ("%d|%d|%ld")                         ``leave_when_empty``)
=================  ====================================  =========================================

Durations are differences of whole seconds, as Asterisk computes them (``time(NULL) -
qe->start``); ring time in RINGNOANSWER is milliseconds. Positions are not recorded by the engine:
they are derived FIFO-wise from the records given (1 + the callers of the same queue who entered
earlier and were still waiting at that moment), exact when no priorities reorder the queue. Visits
that ended otherwise (callback booked, queue full) have only their ENTERQUEUE line. ``|`` and line
breaks inside a field are replaced by ``_`` (as app_queue does for caller names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from typing import TextIO

from acd.reports.compute import visit_result
from acd.store.records import Interaction, QueueVisit



# queue_exit reasons (acd.service.acd) -> the app_queue event for a caller leaving without an agent
_EXIT_EVENTS = {"timeout": "EXITWITHTIMEOUT", "overflow": "EXITWITHTIMEOUT", "empty": "EXITEMPTY"}


@dataclass(frozen=True)
class QueueLogLine:
    t: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    def render(self) -> str:
        fields = [str(int(math.floor(self.t))), self.callid, self.queue, self.agent, self.event, *self.data]
        return "|".join(_clean(f) if i != 0 else f for i, f in enumerate(fields))


def _clean(value: str) -> str:
    return value.replace("|", "_").replace("\r", "_").replace("\n", "_")


def _sec(t: float) -> int:
    return int(math.floor(t))


def _dur(t0: float, t1: float) -> int:
    """A duration as Asterisk logs it: whole-second clock readings subtracted."""
    return max(0, _sec(t1) - _sec(t0))


def _visit_end(rec: Interaction, visit: QueueVisit) -> float | None:
    if visit.exited_at is not None:
        return visit.exited_at
    result, wait = visit_result(rec, visit)
    return visit.entered_at + wait if result == "abandoned" and wait is not None else None


def lines(interactions: Sequence[Interaction], start: float | None = None, end: float | None = None) -> list[QueueLogLine]:
    """All queue_log lines of these calls with a time in ``[start, end)``, in time order."""
    visits: dict[str, list[tuple[float, float]]] = {}  # queue -> [(entered, left or inf)]
    for rec in interactions:
        for v in rec.queues:
            end_t = _visit_end(rec, v)
            visits.setdefault(v.queue, []).append((v.entered_at, math.inf if end_t is None else end_t))

    def ahead(queue: str, entered: float, at: float) -> int:
        return sum(1 for e, x in visits.get(queue, ()) if e < entered and x > at)

    out: list[tuple[float, int, int, QueueLogLine]] = []
    for n, rec in enumerate(interactions):
        callid = rec.uniqueid or rec.call_id
        seq = 0

        def add(line: QueueLogLine) -> None:
            nonlocal seq
            out.append((line.t, n, seq, line))  # noqa: B023 - add() is only called within this iteration
            seq += 1

        for v in rec.queues:
            opos = 1 + ahead(v.queue, v.entered_at, v.entered_at)
            add(QueueLogLine(v.entered_at, callid, v.queue, "NONE", "ENTERQUEUE", ("", rec.ani or "", str(opos))))
            result, _ = visit_result(rec, v)
            end_t = _visit_end(rec, v)
            left = end_t if end_t is not None else math.inf
            for offer in rec.offers:
                if not (v.entered_at <= offer.offered_at <= left) or offer.outcome == "answered":
                    continue
                if offer.outcome == "ringing":  # still ringing when the caller left: cancelled
                    if result != "abandoned" or end_t is None:
                        continue
                    ring, event = max(0.0, end_t - offer.offered_at), "RINGCANCELED"
                else:
                    ring = offer.ring_s or 0.0
                    event = "RINGCANCELED" if offer.outcome == "cancelled" else "RINGNOANSWER"
                add(QueueLogLine(offer.offered_at + ring, callid, v.queue, offer.agent or "NONE", event, (str(int(round(ring * 1000))),)))
            if result == "answered" and rec.answered_at is not None and rec.queue == v.queue:
                hold = _dur(v.entered_at, rec.answered_at)
                answered = next((o for o in reversed(rec.offers) if o.outcome == "answered" and o.agent == rec.agent), None)
                ring = int(round(answered.ring_s)) if answered is not None and answered.ring_s is not None else 0
                agent = rec.agent or "NONE"
                add(QueueLogLine(rec.answered_at, callid, v.queue, agent, "CONNECT", (str(hold), "", str(ring))))
                if rec.talk_s is not None:
                    done = rec.ended_at if rec.ended_at is not None else rec.answered_at + rec.talk_s + (rec.hold_s or 0.0)
                    event = "COMPLETEAGENT" if rec.ended_by == "agent" else "COMPLETECALLER"  # who hung up, when recorded
                    add(QueueLogLine(done, callid, v.queue, agent, event, (str(hold), str(_dur(rec.answered_at, done)), str(opos))))
            elif result == "abandoned" and end_t is not None:
                pos = 1 + ahead(v.queue, v.entered_at, end_t)
                add(QueueLogLine(end_t, callid, v.queue, "NONE", "ABANDON", (str(pos), str(opos), str(_dur(v.entered_at, end_t)))))
            elif v.reason in _EXIT_EVENTS and end_t is not None:
                pos = 1 + ahead(v.queue, v.entered_at, end_t)
                add(QueueLogLine(end_t, callid, v.queue, "NONE", _EXIT_EVENTS[v.reason], (str(pos), str(opos), str(_dur(v.entered_at, end_t)))))
    out.sort(key=lambda item: item[:3])
    return [line for t, _, _, line in out if (start is None or t >= start) and (end is None or t < end)]


def render(interactions: Sequence[Interaction], start: float | None = None, end: float | None = None) -> str:
    """The queue_log text: one line per event, each ending in a newline."""
    return "".join(line.render() + "\n" for line in lines(interactions, start, end))


def write(interactions: Iterable[Interaction], stream: TextIO, start: float | None = None, end: float | None = None) -> int:
    """Write the lines to a text stream; returns how many were written."""
    rows = lines(list(interactions), start, end)
    for line in rows:
        stream.write(line.render() + "\n")
    return len(rows)
