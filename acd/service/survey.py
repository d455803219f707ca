"""The post-call survey: a queue with ``survey: <flow>`` (queues.yaml) has its agent legs bridged
with ``F(acd-survey^s^1)`` (``AgentLegs.bridge_options``, acd.service.legs), so when the agent hangs up the caller
stays on the line and ``[acd-survey]`` opens a FastAGI ``survey`` session. This runs the queue's
survey flow (the flow language: "rate us 1 to 5") and puts the answers on that call's record, tied
to its customer and agent (a ``survey`` event; ``acd.store.records`` folds it).

The survey's own steps go on the call's timeline as ``survey_*`` events (``survey_step``...), not
``flow_*``: they are not the call's IVR path, and the record's verification stays what the IVR
found. An answer is a menu step's key (the step's name is the question: ``csat``, ``resolved``...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from acd import events
from acd.flows.ports_extra import CallContext
from acd.logs import get_logger
from acd.store.records import fold

if TYPE_CHECKING:
    from acd.agi.channel import AgiChannel
    from acd.flows.interpreter import FlowInterpreter
    from acd.flows.model import CompiledFlow
    from acd.flows.registry import FlowRegistry
    from acd.routing.core import AcdCore
    from acd.service.calllog import MemoryCallLog
    from acd.ports import InteractionRecorder
    from acd.telemetry.quality import QualityMetrics

log = get_logger(__name__)


@dataclass
class SurveyRecorder:
    """The call log, with the survey flow's events renamed ``survey_*`` and its answers kept."""

    inner: Any  # InteractionRecorder
    answers: dict[str, int | str] = field(default_factory=dict)

    def event(self, call_id: str, event: events.CallEvent) -> None:
        if isinstance(event, events.FlowStep) and event.action == "menu" and event.outcome.isdigit():
            self.answers[event.step] = int(event.outcome)
        self.inner.event(call_id, events.as_survey_event(event))


class PostCallSurvey:
    def __init__(self, core: AcdCore, calllog: MemoryCallLog, registry: FlowRegistry, interpreter: FlowInterpreter, *,
                 quality: QualityMetrics, csat_satisfied_min: int, emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.core, self.calllog, self.registry = core, calllog, registry
        self.interpreter = interpreter  # its ports' recorder is replaced per call (SurveyRecorder)
        self.quality, self.csat_satisfied_min, self.emit = quality, csat_satisfied_min, emit

    def flow_for(self, queue: str | None) -> CompiledFlow | None:
        q = self.core.queues.get(queue or "")
        if q is None or not q.survey:
            return None
        return self.registry.current.flows.get(q.survey)

    async def __call__(self, channel: AgiChannel) -> None:
        call = CallContext.from_agi(channel.env)
        calllog = self.calllog
        timeline = calllog.timeline(call.call_id)
        rec = fold(call.call_id, timeline) if timeline else None
        flow = self.flow_for(rec.queue if rec else None)
        if rec is None or flow is None:
            log.warn_event("survey.no_flow", call_id=call.call_id, queue=rec.queue if rec else None)
            calllog.event(call.call_id, events.SurveyAnswered(flow=None, answers={}, completed=False,
                                                                     reason="no survey flow for this call's queue"))
            await channel.hangup()
            return
        recorder = SurveyRecorder(calllog)
        interpreter = replace_recorder(self.interpreter, recorder)
        result = await interpreter.run(flow, channel, call, flows=self.registry.current.flows)
        answered = events.SurveyAnswered(flow=flow.name, version=str(flow.version), answers=dict(recorder.answers),
                                         completed=result.outcome == "hangup" and not result.failed, agent=rec.agent,
                                         customer_id=rec.customer_id, queue=rec.queue)
        calllog.event(call.call_id, answered)
        score = recorder.answers.get("csat")
        if isinstance(score, int) and 1 <= score <= 5:
            self.quality.survey_answered(rec.queue, rec.agent, score, self.csat_satisfied_min)
        self.emit("survey_done", {"call_id": call.call_id, "agent_id": rec.agent, "queue": rec.queue, "answers": dict(answered.answers)})
        log.event("survey.done", call_id=call.call_id, flow=flow.name, answers=len(recorder.answers), outcome=result.outcome)


def replace_recorder(interpreter: FlowInterpreter, recorder: InteractionRecorder) -> FlowInterpreter:
    """The same interpreter (ports, clock, limits) recording through ``recorder``."""
    from copy import copy

    clone = copy(interpreter)
    clone.ports = replace(interpreter.ports, recorder=recorder)
    return clone
