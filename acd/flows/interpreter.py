"""The flow interpreter: runs one call through one compiled flow.

It is pure in the sense of the project: everything outside (the caller's channel, the customer
directory, verification, the ACD queue, HTTP, callbacks, the record, the clock) is injected, so a
test drives it with a scripted channel and in-memory ports and gets the same behaviour as a real
call over FastAGI.

Guarantees:
- a max-steps guard stops any runaway flow;
- every step is recorded on the call's record (``flow_step`` events: step, action, outcome,
  inputs with secrets masked, start time, duration);
- on any failure (a port raising, HTTP down, bad data, a broken expression, the guard) the caller
  is never left in silence: the flow's ``on_failure`` (default: an apology prompt, then the
  fallback queue) takes over; only when even that fails does the session end, and the dialplan's
  own fallback (``[acd-fallback]``) picks the caller up.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Awaitable, Callable, Mapping

from acd import events
from acd.agi.errors import AgiError, AgiHangup
from acd.clock import Clock
from acd.flows.digits import DTMF, check_digits, currency_parts, date_epoch, parse_date_digits
from acd.flows.expr import ExprError, ExprEvalError, Scope, truthy
from acd.flows.model import (
    BranchParams,
    CallbackParams,
    CollectAccountParams,
    CollectParams,
    CompiledFlow,
    DigitSpec,
    HangupParams,
    HttpParams,
    IdentifyParams,
    LanguageParams,
    LookupParams,
    MenuParams,
    PlayParams,
    QueueParams,
    ReturnParams,
    ScheduleParams,
    SetParams,
    Step,
    SubflowParams,
    TaskParams,
    TransferParams,
    VerifyParams,
    VoicemailParams,
    thaw,
)
from acd.flows.ports_extra import (
    CallbackPort,
    CallbackRequest,
    CallContext,
    HttpPort,
    HttpRequest,
    HttpResponse,
    QueueOutcome,
    QueuePort,
    RecordingControl,
    TaskPort,
    TaskRefused,
    TaskRequest,
)
from acd.flows.template import Prompt, SayPart, SoundPart, TextTemplate, valid_sound_name
from acd.logs import bind_call, get_logger
from acd.ports import (
    CallChannel,
    CustomerDirectory,
    CustomerSummary,
    InteractionRecorder,
    QueueRequest,
    SkillRequirement,
    VerificationLevel,
    VerificationService,
    VerifyResult,
)
from acd.secrets import MASK, Secret

log = get_logger(__name__)

ALL_KEYS = DTMF
NUMBER_RE = re.compile(r"^\+?[0-9]{2,20}$")
EXTEN_RE = re.compile(r"^[A-Za-z0-9_+*#.\-]{1,40}$")
MAILBOX_RE = re.compile(r"^[A-Za-z0-9_\-]{1,40}(@[A-Za-z0-9_\-]{1,40})?$")
LANG_RE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class StepError(Exception):
    """A step could not do its job (bad data, a port failed); goes to ``on_error`` or on_failure."""


class FlowAborted(Exception):
    """The flow cannot go on (max steps, an unrouted error); the failure handler takes over."""

    def __init__(self, reason: str, step: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.step = step


@dataclass(frozen=True)
class FlowResult:
    """How the call left the flow."""

    outcome: str  # answered | abandoned | transferred | voicemail | hangup | caller_hangup | returned:<x> | fallback:<queue outcome> | failed
    flow: str
    version: str
    last_step: str | None
    steps: int
    failed: bool = False
    error: str | None = None
    customer_id: str | None = None
    verification: str = "none"
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FlowPorts:
    directory: CustomerDirectory
    verification: VerificationService
    recorder: InteractionRecorder
    queue: QueuePort
    http: HttpPort
    callbacks: CallbackPort
    tasks: TaskPort | None = None  # follow-up tasks (acd.tasks); None: the task step fails


@dataclass(frozen=True)
class _End:
    outcome: str


@dataclass(frozen=True)
class _Return:
    outcome: str


@dataclass
class _CallState:
    call: CallContext
    top: CompiledFlow
    flows: Mapping[str, CompiledFlow]
    recording: RecordingControl | None
    language: str
    customer: CustomerSummary | None = None
    passed: set[str] = field(default_factory=set)
    locked: bool = False
    typeahead: str = ""
    steps: int = 0
    depth: int = 0
    last_step: str | None = None
    muted: bool = False

    @property
    def level(self) -> str:
        return self.top.verification.level(self.passed) if self.customer is not None else "none"


def customer_view(c: CustomerSummary | None) -> dict[str, Any] | None:
    if c is None:
        return None
    view = {str(k): v for k, v in dict(c.attributes).items()}
    view.update({
        "id": c.customer_id, "name": c.name, "account_number": c.account_number, "segment": c.segment,
        "vip": c.vip, "language": c.language, "owner_agent": c.owner_agent, "last_agent": c.last_agent,
    })
    return view


def _mask(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return value


class FlowInterpreter:
    def __init__(
        self,
        ports: FlowPorts,
        clock: Clock,
        *,
        fallback_queue: str = "general",
        max_steps: int = 500,
        max_subflow_depth: int = 8,
    ) -> None:
        self.ports = ports
        self.clock = clock
        self.fallback_queue = fallback_queue
        self.max_steps = max_steps
        self.max_subflow_depth = max_subflow_depth

    # ------------------------------------------------------------------ entry
    async def run(
        self,
        flow: CompiledFlow,
        channel: CallChannel,
        call: CallContext,
        *,
        flows: Mapping[str, CompiledFlow] | None = None,
        recording: RecordingControl | None = None,
    ) -> FlowResult:
        """Run ``call`` through ``flow``; ``flows`` resolves subflows (the same registry snapshot
        the flow came from, so a reload in the middle of the call changes nothing for it)."""
        with bind_call(call.call_id):
            return await self._run(flow, channel, call, flows, recording)

    async def _run(self, flow: CompiledFlow, channel: CallChannel, call: CallContext,
                   flows: Mapping[str, CompiledFlow] | None, recording: RecordingControl | None) -> FlowResult:
        st = _CallState(call=call, top=flow, flows=flows or {flow.name: flow}, recording=recording,
                        language=call.language or flow.language)
        rec = self.ports.recorder
        rec.event(call.call_id, events.FlowStarted(flow=flow.name, version=str(flow.version), caller=call.caller, dnis=call.dnis,
                                                   at=self.clock.now()))
        log.event("flow.start", flow=flow.name, version=str(flow.version))
        frame_vars = self._initial_vars(flow)
        outcome, failed, error = "failed", False, None
        try:
            result = await self._run_flow(st, flow, frame_vars, channel)
            outcome = result.outcome if isinstance(result, _End) else f"returned:{result.outcome}"
        except AgiHangup:
            outcome = "caller_hangup"
        except AgiError as exc:  # the session itself broke: nothing more can be played
            outcome, failed, error = "failed", True, f"{type(exc).__name__}: {exc}"
            log.warn_event("flow.channel_lost", flow=flow.name, step=st.last_step, error=error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - anything at all: the caller must not hear silence
            reason = exc.reason if isinstance(exc, FlowAborted) else f"{type(exc).__name__}: {exc}"
            failed, error = True, reason
            outcome = await self._fallback(st, channel, reason)
        finally:
            await self._unmute(st)
        rec.event(call.call_id, events.FlowEnded(
            flow=flow.name, version=str(flow.version), outcome=outcome, steps=st.steps, last_step=st.last_step, failed=failed,
            verification=st.level, customer_id=st.customer.customer_id if st.customer else None, at=self.clock.now(),
        ))
        log.event("flow.end", flow=flow.name, outcome=outcome, steps=st.steps, failed=failed)
        return FlowResult(outcome=outcome, flow=flow.name, version=str(flow.version), last_step=st.last_step,
                          steps=st.steps, failed=failed, error=error,
                          customer_id=st.customer.customer_id if st.customer else None,
                          verification=st.level, variables=_mask(frame_vars))

    @staticmethod
    def _initial_vars(flow: CompiledFlow) -> dict[str, Any]:
        return {k: thaw(v) for k, v in flow.variables.items()}

    async def _fallback(self, st: _CallState, channel: CallChannel, reason: str) -> str:
        """The flow failed: apologise, then queue to the fallback queue. Returns the outcome."""
        policy = st.top.on_failure
        queue = (policy.queue if policy and policy.queue else None) or self.fallback_queue
        self.ports.recorder.event(st.call.call_id, events.FlowFailure(flow=st.top.name, step=st.last_step, reason=reason, fallback_queue=queue))
        log.warn_event("flow.failure", flow=st.top.name, step=st.last_step, reason=reason, fallback_queue=queue)
        try:
            await self._unmute(st)
            for prompt in policy.prompt if policy else ():
                for part in prompt.parts:
                    if isinstance(part, SoundPart):
                        await channel.stream_file(part.name, "")
            request = self._queue_request(st, queue, priority=policy.priority if policy else 0)
            result = await self.ports.queue.enqueue(st.call, request)
            return f"fallback:{QueueOutcome(result).value}"
        except AgiHangup:
            return "caller_hangup"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the dialplan's [acd-fallback] is the last resort
            log.error_event("flow.fallback_failed", flow=st.top.name, error=f"{type(exc).__name__}: {exc}")
            self.ports.recorder.event(st.call.call_id, events.FlowFallbackFailed(error=type(exc).__name__))
            return "failed"

    # ------------------------------------------------------------------ the step loop
    async def _run_flow(self, st: _CallState, flow: CompiledFlow, frame: dict[str, Any], channel: CallChannel) -> _End | _Return:
        name = flow.start
        while True:
            st.steps += 1
            if st.steps > self.max_steps:
                raise FlowAborted(f"more than {self.max_steps} steps (a loop?)", name)
            step = flow.steps[name]
            st.last_step = name if flow is st.top else f"{flow.name}.{name}"
            started, t0 = self.clock.now(), self.clock.monotonic()
            inputs: dict[str, Any] = {}
            error: str | None = None
            try:
                outcome = await self._execute(step, st, flow, frame, channel, inputs)
            except (AgiHangup, AgiError, asyncio.CancelledError):
                self._record(st, flow, step, "caller_hangup", inputs, started, t0, None)
                raise
            except (TimeoutError, StepError, ExprError, ValueError, TypeError, KeyError, LookupError, OSError) as exc:
                outcome, error = "error", _describe(exc)
            except Exception as exc:  # noqa: BLE001 - a port raising anything is a step error
                outcome, error = "error", _describe(exc)
            if isinstance(outcome, (_End, _Return)):
                await self._unmute(st)
                self._record(st, flow, step, outcome.outcome, inputs, started, t0, None)
                return outcome
            self._record(st, flow, step, outcome, inputs, started, t0, error)
            if step.is_terminal(outcome) and outcome not in step.routes:
                await self._unmute(st)
                return _Return(outcome) if step.action == "return" else _End(_END_NAMES.get(outcome, outcome))
            if step.action == "branch" and outcome.startswith("case"):
                target = step.params.cases[int(outcome[4:]) - 1].target
            else:
                target = step.target(outcome)
            if target not in flow.secret_ahead:  # muted only on the way into secret input
                await self._unmute(st)
            if target is None:
                raise FlowAborted(error or f"outcome {outcome!r} of step {name!r} has nowhere to go", name)
            name = target

    def _record(self, st: _CallState, flow: CompiledFlow, step: Step, outcome: str, inputs: dict[str, Any],
                started: float, t0: float, error: str | None) -> None:
        self.ports.recorder.event(st.call.call_id, events.FlowStep(
            flow=flow.name, version=str(flow.version), step=step.name, action=step.action, outcome=outcome, started_at=started,
            duration_ms=int((self.clock.monotonic() - t0) * 1000), inputs=_mask(inputs) if inputs else None, error=error or None,
        ))
        log.event("flow.step", 10, flow=flow.name, step=step.name, action=step.action, outcome=outcome,
                  **({"error": error} if error else {}))

    # ------------------------------------------------------------------ scope
    def _scope(self, st: _CallState, frame: dict[str, Any]) -> Scope:
        call_view = {
            "id": st.call.call_id, "caller": st.call.caller, "dnis": st.call.dnis, "channel": st.call.channel,
            "language": st.language, "verification": st.level, "withheld": st.call.withheld,
            "locked": st.locked, "flow": st.top.name,
        }
        return Scope([frame, {"call": call_view, "customer": customer_view(st.customer)}])

    # ------------------------------------------------------------------ prompts
    async def _play(self, prompts: tuple[Prompt, ...], st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                    channel: CallChannel, escape: str = "") -> str | None:
        """Play prompt lines in order; returns the key that cut them short, if any."""
        scope = self._scope(st, frame) if any(isinstance(p, SayPart) for pr in prompts for p in pr.parts) else None
        for prompt in prompts:
            for part in prompt.parts:
                digit = await self._play_part(part, scope, flow, channel, escape)
                if digit:
                    return digit
        return None

    async def _play_part(self, part: SoundPart | SayPart, scope: Scope | None, flow: CompiledFlow,
                         channel: CallChannel, escape: str) -> str | None:
        if isinstance(part, SoundPart):
            return (await channel.stream_file(part.name, escape)).digit
        assert scope is not None
        value = part.expr.evaluate(scope)
        if isinstance(value, Secret):
            raise ExprEvalError(f"a secret cannot be spoken ({part.expr.text})")
        kind = part.kind
        if value is None:
            raise StepError(f"nothing to say: {part.expr.text} is null")
        if kind == "auto":
            if isinstance(value, bool):
                value, kind = int(value), "number"
            elif isinstance(value, int):
                kind = "number"
            elif isinstance(value, float):
                kind = "number" if value.is_integer() else "decimal"
            elif isinstance(value, str) and value.isdigit():
                kind = "digits"
            elif isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
                kind = "decimal" if "." in value else "number"
            else:
                raise StepError(f"cannot say {value!r} ({part.expr.text}): add | sound, | date or | currency")
        if kind == "sound":
            name = str(value)
            if not valid_sound_name(name):
                raise StepError(f"{name!r} is not a sound file name")
            return (await channel.stream_file(name, escape)).digit
        if kind == "digits":
            text = str(value) if not isinstance(value, float) else str(int(value))
            if not text or any(c not in DTMF for c in text):
                raise StepError(f"cannot say {text!r} as digits")
            return await channel.say_digits(text, escape)
        if kind == "number":
            try:
                number = int(float(value)) if not isinstance(value, int) else value
            except (TypeError, ValueError):
                raise StepError(f"cannot say {value!r} as a number") from None
            return await channel.say_number(number, escape)
        if kind == "decimal":
            whole, _, frac = f"{float(value):.2f}".rstrip("0").partition(".")
            d = await channel.say_number(int(whole), escape)
            if d or not frac:
                return d
            d = (await channel.stream_file("point", escape)).digit
            return d or await channel.say_digits(frac, escape)
        if kind == "date":
            try:
                epoch = date_epoch(value)
            except ValueError as exc:
                raise StepError(str(exc)) from None
            return await channel.say_date(epoch, escape)
        if kind == "currency":
            try:
                negative, major, minor = currency_parts(value)
            except ValueError as exc:
                raise StepError(str(exc)) from None
            sounds = flow.currency
            seq: list[tuple[str, Any]] = []
            if negative:
                seq.append(("sound", sounds.minus))
            if major or not minor:
                seq += [("number", major), ("sound", sounds.major)]
            if minor:
                if major:
                    seq.append(("sound", sounds.conjunction))
                seq += [("number", minor), ("sound", sounds.minor)]
            for what, arg in seq:
                d = await channel.say_number(arg, escape) if what == "number" else (await channel.stream_file(arg, escape)).digit
                if d:
                    return d
            return None
        raise StepError(f"unknown way to say a value: {kind}")  # pragma: no cover

    # ------------------------------------------------------------------ digits
    async def _read_digits(self, spec: DigitSpec, prompt: tuple[Prompt, ...], st: _CallState, flow: CompiledFlow,
                           frame: dict[str, Any], channel: CallChannel) -> tuple[str, str]:
        """One entry: (how it ended: no_input|terminator|max|timeout, digits without terminator)."""
        pending = list(st.typeahead)
        st.typeahead = ""
        if not pending and prompt:
            d = await self._play(prompt, st, flow, frame, channel, ALL_KEYS if spec.interruptible else "")
            if d:
                pending.append(d)
        buf = ""
        first = True
        while True:
            if pending:
                d = pending.pop(0)
            else:
                timeout = spec.first_digit_timeout_s if first else spec.inter_digit_timeout_s
                d = await channel.wait_for_digit(int(timeout * 1000))
            if d is None:
                self._keep_typeahead(st, spec, pending)
                return ("no_input" if first else "timeout"), buf
            first = False
            if spec.terminator and d == spec.terminator:
                self._keep_typeahead(st, spec, pending)
                return ("terminator" if buf else "no_input"), buf
            buf += d
            if len(buf) >= spec.max_digits:
                self._keep_typeahead(st, spec, pending)
                return "max", buf

    @staticmethod
    def _keep_typeahead(st: _CallState, spec: DigitSpec, pending: list[str]) -> None:
        """Keys typed beyond an entry go to the next step, unless the entry was secret: those may
        be more of the secret, and the next step would record them."""
        st.typeahead = "" if spec.secret else "".join(pending)

    def _valid(self, spec: DigitSpec, digits: str) -> str | None:
        if not digits.isdigit():
            return "not digits"
        if len(digits) < spec.min_digits:
            return "too short"
        return check_digits(digits, spec.validators)

    async def _mute(self, st: _CallState) -> None:
        if st.recording is not None and not st.muted:
            await st.recording.mute()
            st.muted = True

    async def _unmute(self, st: _CallState) -> None:
        if st.recording is not None and st.muted:
            st.muted = False
            try:
                await st.recording.unmute()
            except Exception as exc:  # noqa: BLE001 - never let this hide the step's own result
                log.warn_event("flow.recording.unmute_failed", error=type(exc).__name__)

    async def _collect(self, spec: DigitSpec, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                       channel: CallChannel, inputs: dict[str, Any]) -> tuple[str, str]:
        """Collect with retries: ('ok', digits) | ('invalid', '') | ('timeout', '')."""
        entries: list[Any] = []
        inputs["entries"] = entries
        fail = "timeout"
        muted_here = spec.secret and not st.muted  # a prompt leading here may have muted already
        if spec.secret:
            await self._mute(st)
        try:
            for attempt in range(spec.retries + 1):
                how, digits = await self._read_digits(spec, spec.prompt, st, flow, frame, channel)
                entries.append(Secret(digits) if spec.secret else digits)
                if how == "no_input":
                    fail = "timeout"
                else:
                    problem = self._valid(spec, digits)
                    if problem is None:
                        return "ok", digits
                    fail = "invalid"
                    inputs.setdefault("problems", []).append(problem)
                if attempt < spec.retries:
                    again = spec.invalid_prompt if fail == "invalid" else spec.no_input_prompt
                    if again:
                        d = await self._play(again, st, flow, frame, channel, ALL_KEYS if spec.interruptible else "")
                        if d:
                            st.typeahead += d
            return fail, ""
        finally:
            if muted_here:
                await self._unmute(st)

    # ------------------------------------------------------------------ actions
    async def _execute(self, step: Step, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                       channel: CallChannel, inputs: dict[str, Any]) -> str | _End | _Return:
        handler: Callable[..., Awaitable[str | _End | _Return]] = getattr(self, f"_do_{step.action}")
        return await handler(step, step.params, st, flow, frame, channel, inputs)

    async def _do_play(self, step: Step, p: PlayParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                     channel: CallChannel, inputs: dict[str, Any]) -> str:
        secret_next = step.target("done") in flow.secret_ahead
        if secret_next:  # a key typed into this prompt is the first of a secret: mute before it plays
            await self._mute(st)
        d = await self._play(p.prompts, st, flow, frame, channel, ALL_KEYS if p.interruptible else "")
        if d:
            st.typeahead += d
            inputs["key"] = Secret(d) if secret_next else d
        return "done"

    async def _do_menu(self, step: Step, p: MenuParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                     channel: CallChannel, inputs: dict[str, Any]) -> str:
        keys: list[str | None] = []
        inputs["keys"] = keys
        for attempt in range(p.retries + 1):
            key: str | None
            if st.typeahead:
                key, st.typeahead = st.typeahead[0], st.typeahead[1:]
            else:
                key = await self._play(p.prompt, st, flow, frame, channel, ALL_KEYS if p.interruptible else "")
                if key is None:
                    key = await channel.wait_for_digit(int(p.timeout_s * 1000))
            keys.append(key)
            if key is not None and key in p.options:
                return key
            fail = "timeout" if key is None else "invalid"
            if attempt < p.retries:
                again = p.invalid_prompt if fail == "invalid" else p.no_input_prompt
                if again:
                    d = await self._play(again, st, flow, frame, channel, ALL_KEYS if p.interruptible else "")
                    if d:
                        st.typeahead += d
        return fail

    async def _do_collect(self, step: Step, p: CollectParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                        channel: CallChannel, inputs: dict[str, Any]) -> str:
        outcome, digits = await self._collect(p.digits, st, flow, frame, channel, inputs)
        if outcome == "ok":
            frame[p.into] = Secret(digits) if p.digits.secret else digits
        return outcome

    async def _do_set(self, step: Step, p: SetParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                    channel: CallChannel, inputs: dict[str, Any]) -> str:
        scope = self._scope(st, frame)
        for name, expr in p.assignments:
            frame[name] = expr.evaluate(scope)
        inputs["set"] = {n: frame[n] for n, _ in p.assignments}
        return "done"

    async def _do_branch(self, step: Step, p: BranchParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                       channel: CallChannel, inputs: dict[str, Any]) -> str:
        scope = self._scope(st, frame)
        for i, case in enumerate(p.cases):
            if truthy(case.condition.evaluate(scope), case.condition.root.pos):
                return f"case{i + 1}"
        return "else"

    async def _do_schedule(self, step: Step, p: ScheduleParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                         channel: CallChannel, inputs: dict[str, Any]) -> str:
        state = p.schedule.state(self.clock.now())
        inputs["schedule"] = p.schedule.name
        return state

    # ---- identification and verification
    async def _do_lookup_caller(self, step: Step, p: LookupParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                              channel: CallChannel, inputs: dict[str, Any]) -> str:
        number = p.number.render(self._scope(st, frame)).strip() if p.number else (st.call.caller or "")
        if not number or number.lower() in ("unknown", "anonymous", "restricted", "private", "withheld"):
            return "withheld"
        found = list(await self.ports.directory.find_by_phone(number))
        inputs["matches"] = len(found)
        if not found:
            return "not_found"
        if len(found) > 1:
            return "multiple"
        st.customer = found[0]
        st.passed.add("caller_id")
        inputs["customer_id"] = st.customer.customer_id
        return "found"

    async def _identify(self, account: str, st: _CallState, inputs: dict[str, Any]) -> str:
        customer = await self.ports.directory.find_by_account(account)
        if customer is None:
            return "failed"
        inputs["customer_id"] = customer.customer_id
        if st.customer is not None and st.customer.customer_id != customer.customer_id:
            st.passed.clear()  # another customer than the caller id said: start over
        st.customer = customer
        if await self.ports.verification.is_locked(customer.customer_id, st.call.caller):
            st.locked = True
            return "locked"
        st.passed.add("account")
        return "ok"

    async def _do_identify(self, step: Step, p: IdentifyParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                         channel: CallChannel, inputs: dict[str, Any]) -> str:
        account = p.account.render(self._scope(st, frame)).strip()
        if not account:
            return "failed"
        return await self._identify(account, st, inputs)

    async def _do_collect_account(self, step: Step, p: CollectAccountParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                                channel: CallChannel, inputs: dict[str, Any]) -> str:
        spec = p.digits
        single = DigitSpec(**{**spec.__dict__, "retries": 0})
        attempts: list[str] = []
        inputs["accounts"] = attempts
        fail = "timeout"
        for attempt in range(spec.retries + 1):
            outcome, digits = await self._collect(single, st, flow, frame, channel, {})
            if outcome == "ok":
                attempts.append(digits)
                result = await self._identify(digits, st, inputs)
                if result in ("ok", "locked"):
                    frame[p.into] = digits
                    return result
                fail, again = "failed", p.not_found_prompt or spec.invalid_prompt
            else:
                attempts.append("" if outcome == "timeout" else "(invalid)")
                fail = "timeout" if outcome == "timeout" and fail != "failed" else "failed"
                again = spec.invalid_prompt if outcome == "invalid" else spec.no_input_prompt
            if attempt < spec.retries and again:
                d = await self._play(again, st, flow, frame, channel, ALL_KEYS)
                if d:
                    st.typeahead += d
        return fail

    async def _verify(self, kind: str, step: Step, p: VerifyParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                      channel: CallChannel, inputs: dict[str, Any]) -> str:
        if st.customer is None:
            return "not_identified"
        cid = st.customer.customer_id
        if await self.ports.verification.is_locked(cid, st.call.caller):
            st.locked = True
            self._record_verification(st, kind, "locked", 0)
            return "locked"
        tries: list[str] = []
        inputs["attempts"] = tries
        outcome = "error"
        try:
            await self._mute(st)  # over every attempt and the prompts between them (unmuted after the step)
            outcome = await self._verify_attempts(kind, p, st, flow, frame, channel, cid, tries)
            return outcome
        except (AgiHangup, AgiError):
            outcome = "caller_hangup"
            raise
        finally:
            self._record_verification(st, kind, outcome, len(tries))

    def _record_verification(self, st: _CallState, method: str, outcome: str, attempts: int) -> None:
        """The record's ``verification`` event: the method, the level the caller holds now and
        what happened. Never the digits."""
        self.ports.recorder.event(st.call.call_id, events.Verification(
            method=method, level=st.level, outcome=outcome, attempts=attempts,
            customer_id=st.customer.customer_id if st.customer else None))

    async def _verify_attempts(self, kind: str, p: VerifyParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                               channel: CallChannel, cid: str, tries: list[str]) -> str:
        answered = False
        for attempt in range(p.attempts):
            outcome, digits = await self._collect(p.digits, st, flow, frame, channel, {})
            if outcome == "timeout":
                tries.append("no_input")
            elif outcome == "invalid":
                tries.append("invalid")
                answered = True
            else:
                answered = True
                secret = Secret(digits)
                if kind == "pin":
                    result = await self.ports.verification.verify_pin(cid, secret, st.call.caller, st.call.call_id)
                else:  # the service always gets YYYYMMDD, whatever order the flow asks the caller for
                    day = parse_date_digits(digits, p.date_format)
                    if day is None:  # the digit spec already refused impossible dates
                        raise StepError("not a date")
                    secret = Secret(day.strftime("%Y%m%d"))
                    result = await self.ports.verification.verify_date(cid, p.date_kind, secret, st.call.caller, st.call.call_id)
                result = VerifyResult(result)
                tries.append(result.value)
                if result is VerifyResult.OK:
                    st.passed.add(kind)
                    if kind != "pin":
                        st.passed.add("date")
                    return "ok"
                if result is VerifyResult.LOCKED:
                    st.locked = True
                    return "locked"
                if result is VerifyResult.NO_SECRET:
                    return "no_secret"
            if attempt < p.attempts - 1:
                again = p.failed_prompt if answered and tries[-1] != "no_input" else p.digits.no_input_prompt
                if again:
                    await self._play(again, st, flow, frame, channel, "")
        return "failed" if answered else "timeout"

    async def _do_verify_pin(self, step: Step, p: VerifyParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                           channel: CallChannel, inputs: dict[str, Any]) -> str:
        return await self._verify("pin", step, p, st, flow, frame, channel, inputs)

    async def _do_verify_date(self, step: Step, p: VerifyParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                            channel: CallChannel, inputs: dict[str, Any]) -> str:
        return await self._verify(p.date_kind, step, p, st, flow, frame, channel, inputs)

    # ---- HTTP
    async def _do_http(self, step: Step, p: HttpParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                     channel: CallChannel, inputs: dict[str, Any]) -> str:
        scope = self._scope(st, frame)
        url = _render_url(p.url, scope)
        if p.query:
            sep = "&" if "?" in url else "?"
            url += sep + urllib.parse.urlencode([(k, t.render(scope)) for k, t in p.query])
        if not re.match(r"^https?://", url):
            raise StepError(f"url {url!r} is not http(s)")
        headers = {k: t.render(scope) for k, t in p.headers}
        for k, v in headers.items():
            if "\n" in v or "\r" in v:
                raise StepError(f"header {k} holds a line break")
        body_json = _render_json(p.json_body, scope) if p.json_body is not None else None
        body = p.body.render(scope) if p.body is not None else None
        request = HttpRequest(p.method, url, headers, body_json, body, p.timeout_s)
        parsed = urllib.parse.urlsplit(url)
        inputs.update({"method": p.method, "url": f"{parsed.scheme}://{parsed.netloc}{parsed.path}"})
        if p.wait_prompt:
            await self._play(p.wait_prompt, st, flow, frame, channel, "")
        response: HttpResponse | None = None
        problem = ""
        for attempt in range(p.retries + 1):
            if attempt:
                await asyncio.sleep(p.retry_delay_s)
            inputs["attempts"] = attempt + 1
            try:
                async with asyncio.timeout(p.timeout_s + 1.0):
                    response = await self.ports.http.request(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - connection refused, timeout, DNS...
                response, problem = None, _describe(exc)
                continue
            if response.status >= 500:
                problem = f"HTTP {response.status}"
                continue
            break
        if response is not None:
            inputs["status"] = response.status
            if p.status_into:
                frame[p.status_into] = response.status
        if response is None or not 200 <= response.status < 300:
            if response is not None and not problem:
                problem = f"HTTP {response.status}"
            inputs["error"] = problem
            return "error"
        if p.save:
            try:
                doc = json.loads(response.body.decode("utf-8")) if response.body else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                inputs["error"] = "the response is not JSON"
                return "error"
            values = {}
            for var, path in p.save:
                found, value = _json_path(doc, path)
                if not found:
                    inputs["error"] = f"no {path} in the response"
                    return "error"
                values[var] = value
            frame.update(values)
            inputs["saved"] = sorted(values)
        return "ok"

    # ---- hand-offs
    def _queue_request(self, st: _CallState, queue: str, *, skills: tuple[SkillRequirement, ...] = (), priority: int = 0,
                       language: str | None = None, vip: bool | None = None, attributes: Mapping[str, Any] | None = None) -> QueueRequest:
        c = st.customer
        attrs = {"flow": st.top.name, "flow_version": str(st.top.version)}
        if c is not None:  # sticky routing: the ACD may hold the call for the customer's own agent
            attrs.update({k: v for k, v in (("last_agent", c.last_agent), ("owner_agent", c.owner_agent)) if v})
        attrs.update(attributes or {})
        return QueueRequest(
            queue=queue, skills=skills, language=language or st.language,
            verification=VerificationLevel(st.level), priority=priority,
            vip=bool(c.vip) if vip is None and c is not None else bool(vip),
            customer_id=c.customer_id if c else None, locked=st.locked, attributes=attrs,
        )

    async def _do_queue(self, step: Step, p: QueueParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                      channel: CallChannel, inputs: dict[str, Any]) -> str | _End:
        scope = self._scope(st, frame)
        queue = p.queue.render(scope).strip()
        if not queue:
            raise StepError("the queue name is empty")
        skills: list[SkillRequirement] = []
        for s in p.skills:
            if s.when is not None and not truthy(s.when.evaluate(scope)):
                continue
            name = s.skill.render(scope).strip()
            if name:
                skills.append(SkillRequirement(name, s.min_proficiency, s.required))
        priority = 0
        if p.priority is not None:
            value = p.priority.evaluate(scope)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise StepError(f"priority must be a number, got {value!r}")
            priority = int(value)
        language = p.language.render(scope).strip() if p.language else None
        vip = truthy(p.vip.evaluate(scope)) if p.vip is not None else None
        attributes = {k: t.value(scope) for k, t in p.attributes}
        request = self._queue_request(st, queue, skills=tuple(skills), priority=priority, language=language or None,
                                      vip=vip, attributes=attributes)
        inputs.update({"queue": queue, "skills": [f"{s.skill}>={s.min_proficiency}" for s in skills],
                       "priority": priority, "verification": request.verification.value})
        if p.prompt:
            await self._play(p.prompt, st, flow, frame, channel, "")
        result = QueueOutcome(await self.ports.queue.enqueue(st.call, request)).value
        return result

    async def _do_transfer(self, step: Step, p: TransferParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                         channel: CallChannel, inputs: dict[str, Any]) -> str:
        scope = self._scope(st, frame)
        if p.number is not None:
            number = re.sub(r"[\s\-()]", "", p.number.render(scope))
            if not NUMBER_RE.match(number):
                raise StepError(f"{number!r} is not a phone number")
            place = (p.number_context, number, "1")
        else:
            assert p.context is not None and p.exten is not None and p.priority is not None  # the compiler sets all three
            place = (p.context.render(scope).strip(), p.exten.render(scope).strip(), p.priority.render(scope).strip())
            if not all(EXTEN_RE.match(x) for x in place):
                raise StepError(f"{','.join(place)!r} is not a dialplan location")
        for name, t in p.variables:
            value = t.render(scope)
            if not VAR_NAME_RE.match(name) or "\n" in value:
                raise StepError(f"cannot set channel variable {name!r}")
            await channel.set_variable(name, value)
        inputs["to"] = ",".join(place)
        if p.prompt:
            await self._play(p.prompt, st, flow, frame, channel, "")
        await channel.set_variable("ACD_TRANSFER", ",".join(place))
        if await channel.exec("Goto", *place) < 0:
            raise StepError("Goto was refused")
        return "transferred"

    async def _do_voicemail(self, step: Step, p: VoicemailParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                          channel: CallChannel, inputs: dict[str, Any]) -> str:
        mailbox = p.mailbox.render(self._scope(st, frame)).strip()
        if not MAILBOX_RE.match(mailbox):
            raise StepError(f"{mailbox!r} is not a mailbox")
        inputs["mailbox"] = mailbox
        if p.prompt:
            await self._play(p.prompt, st, flow, frame, channel, "")
        if await channel.exec("Goto", p.context, mailbox, "1") < 0:
            raise StepError("Goto was refused")
        return "left"

    async def _do_callback(self, step: Step, p: CallbackParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                         channel: CallChannel, inputs: dict[str, Any]) -> str:
        scope = self._scope(st, frame)
        number = p.number.render(scope).strip() if p.number else ("" if st.call.withheld else (st.call.caller or ""))
        if p.ask_number is not None and (p.always_ask or not number):
            outcome, digits = await self._collect(p.ask_number, st, flow, frame, channel, inputs)
            number = digits if outcome == "ok" else ""
        number = re.sub(r"[\s\-()]", "", number)
        if not NUMBER_RE.match(number):
            inputs["problem"] = "no number to call back"
            return "failed"
        queue = p.queue.render(scope).strip()
        request = CallbackRequest(
            call_id=st.call.call_id, number=number, queue=queue, requested_at=self.clock.now(),
            customer_id=st.customer.customer_id if st.customer else None, language=st.language,
            note=p.note.render(scope) if p.note else "",
        )
        inputs.update({"number": number, "queue": queue})
        inputs["callback_id"] = await self.ports.callbacks.request_callback(request)
        return "ok"

    async def _do_task(self, step: Step, p: TaskParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                     channel: CallChannel, inputs: dict[str, Any]) -> str:
        """A follow-up task on the caller's customer; ``failed`` (with the reason on the record)
        when the engine has no task store or refuses it."""
        scope = self._scope(st, frame)

        def render(t: TextTemplate | None) -> str | None:
            return (t.render(scope).strip() or None) if t is not None else None

        kind = render(p.type) or ""
        number = render(p.number) or (None if st.call.withheld else st.call.caller or None)
        request = TaskRequest(
            call_id=st.call.call_id, flow=flow.name, step=step.name, type=kind,
            customer_id=st.customer.customer_id if st.customer else None, title=render(p.title), queue=render(p.queue),
            agent=render(p.agent), due=render(p.due), priority=p.priority, note=render(p.note), number=number)
        inputs["type"] = kind
        if self.ports.tasks is None:
            inputs["problem"] = "tasks are off in this engine"
            return "failed"
        try:
            inputs["task_id"] = await self.ports.tasks.create_task(request)
        except TaskRefused as exc:
            inputs["problem"] = str(exc)
            return "failed"
        return "ok"

    async def _do_subflow(self, step: Step, p: SubflowParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                        channel: CallChannel, inputs: dict[str, Any]) -> str | _End:
        sub = st.flows.get(p.flow)
        if sub is None:
            raise StepError(f"subflow {p.flow!r} is not loaded")
        if st.depth >= self.max_subflow_depth:
            raise FlowAborted(f"subflows nested deeper than {self.max_subflow_depth}", step.name)
        scope = self._scope(st, frame)
        sub_vars = self._initial_vars(sub)
        for name, expr in p.inputs:
            sub_vars[name] = expr.evaluate(scope)
        inputs["flow"] = p.flow
        st.depth += 1
        try:
            result = await self._run_flow(st, sub, sub_vars, channel)
        finally:
            st.depth -= 1
        if isinstance(result, _End):
            return result
        for name in p.outputs:
            frame[name] = sub_vars.get(name)
        return result.outcome

    async def _do_language(self, step: Step, p: LanguageParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                         channel: CallChannel, inputs: dict[str, Any]) -> str:
        lang = p.language.render(self._scope(st, frame)).strip()
        if not LANG_RE.match(lang):
            raise StepError(f"{lang!r} is not a language code")
        await channel.set_variable("CHANNEL(language)", lang)
        st.language = lang
        inputs["language"] = lang
        return "done"

    async def _do_hangup(self, step: Step, p: HangupParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                       channel: CallChannel, inputs: dict[str, Any]) -> str:
        if p.prompt:
            await self._play(p.prompt, st, flow, frame, channel, "")
        await channel.hangup()
        return "hangup"

    async def _do_return(self, step: Step, p: ReturnParams, st: _CallState, flow: CompiledFlow, frame: dict[str, Any],
                       channel: CallChannel, inputs: dict[str, Any]) -> _Return:
        return _Return(p.outcome)


_END_NAMES = {"left": "voicemail", "hangup": "hangup", "transferred": "transferred", "answered": "answered", "abandoned": "abandoned",
              "callback": "callback"}


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _render_url(template: TextTemplate, scope: Scope) -> str:
    """A hole at the very start gives the base URL as it is; every later hole is percent-encoded,
    so data (an account number, a caller id) can never change the path or add a query."""
    out = ""
    for part in template.parts:
        if isinstance(part, str):
            out += part
            continue
        text = TextTemplate(part.text, (part,)).render(scope)
        out += text if not out else urllib.parse.quote(text, safe="")
    return out


def _render_json(value: Any, scope: Scope) -> Any:
    if isinstance(value, TextTemplate):
        return value.value(scope)
    if isinstance(value, Mapping):
        return {k: _render_json(v, scope) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_render_json(v, scope) for v in value]
    return value


_PATH_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")


def _json_path(doc: Any, path: str) -> tuple[bool, Any]:
    if path == "$":
        return True, doc
    node = doc
    for m in _PATH_PART.finditer(path):
        key, index = m.group(1), m.group(2)
        if key is not None:
            if not isinstance(node, dict) or key not in node:
                return False, None
            node = node[key]
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                return False, None
            node = node[i]
    return True, node
