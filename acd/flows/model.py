"""The compiled form of a flow: immutable, versioned value objects.

The compiler builds these from YAML once; the interpreter only reads them, so one ``CompiledFlow``
can serve any number of calls at the same time, and a call keeps the object it started with while
a reload puts a new one in the registry.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from acd.flows.expr import Expr
from acd.flows.template import Prompt, TextTemplate
from acd.yamlsrc import Location

# Actions whose step waits for the caller's keys: a loop through one of them cannot spin.
INPUT_ACTIONS = frozenset({"menu", "collect", "collect_account", "verify_pin", "verify_date"})

# Outcomes each action can give, and which of them end the flow without a route.
ACTION_OUTCOMES: dict[str, tuple[str, ...]] = {
    "play": ("done",),
    "menu": ("invalid", "timeout"),  # plus one outcome per option key
    "collect": ("ok", "invalid", "timeout"),
    "set": ("done",),
    "branch": ("else",),  # plus one per case, routed inside the action
    "schedule": ("open", "closed", "holiday"),
    "lookup_caller": ("found", "not_found", "multiple", "withheld"),
    "identify": ("ok", "failed", "locked"),
    "collect_account": ("ok", "failed", "locked", "timeout"),
    "verify_pin": ("ok", "failed", "locked", "no_secret", "timeout", "not_identified"),
    "verify_date": ("ok", "failed", "locked", "no_secret", "timeout", "not_identified"),
    "http": ("ok", "error"),
    "queue": ("answered", "abandoned", "overflow", "callback", "timeout"),
    "transfer": ("transferred",),
    "voicemail": ("left",),
    "callback": ("ok", "failed"),
    "task": ("ok", "failed"),
    "subflow": (),  # the subflow's return outcomes
    "language": ("done",),
    "hangup": ("hangup",),
    "return": ("returned",),
}
ACTIONS = tuple(ACTION_OUTCOMES)

# Outcomes that end the flow (the caller is gone, with an agent, transferred...).
TERMINAL_OUTCOMES: dict[str, frozenset[str]] = {
    "queue": frozenset({"answered", "abandoned", "callback"}),  # callback: the caller hung up, the ACD calls back
    "transfer": frozenset({"transferred"}),
    "voicemail": frozenset({"left"}),
    "hangup": frozenset({"hangup"}),
    "return": frozenset({"returned"}),
}

# An outcome without its own route goes where this other outcome goes (before ``next``).
OUTCOME_DEFAULTS: dict[str, dict[str, str]] = {
    "schedule": {"holiday": "closed"},
    "lookup_caller": {"withheld": "not_found", "multiple": "not_found"},
    "collect_account": {"timeout": "failed"},
    "verify_pin": {"no_secret": "failed", "timeout": "failed", "not_identified": "failed"},
    "verify_date": {"no_secret": "failed", "timeout": "failed", "not_identified": "failed"},
    "queue": {"callback": "overflow", "timeout": "overflow"},
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def freeze(value: Any) -> Any:
    """Deep-freeze YAML data: dicts become read-only mappings, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class FlowVersion:
    """Content hash of the source (and shared files it uses) plus the time it was loaded."""

    content_hash: str
    loaded_at: float

    def __str__(self) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at))
        return f"{self.content_hash[:12]}@{stamp}"


# --------------------------------------------------------------------------- digits
@dataclass(frozen=True)
class Validator:
    kind: str  # luhn | date | range | regex | length
    arg: Any = None

    def describe(self) -> str:
        return self.kind if self.arg is None else f"{self.kind} {self.arg}"


@dataclass(frozen=True)
class DigitSpec:
    """How to collect digits from the caller (collect, collect_account, verify_*)."""

    prompt: tuple[Prompt, ...]
    min_digits: int = 1
    max_digits: int = 20
    terminator: str = "#"
    first_digit_timeout_s: float = 5.0
    inter_digit_timeout_s: float = 3.0
    retries: int = 2
    invalid_prompt: tuple[Prompt, ...] = ()
    no_input_prompt: tuple[Prompt, ...] = ()
    validators: tuple[Validator, ...] = ()
    secret: bool = False
    interruptible: bool = True


# --------------------------------------------------------------------------- actions
@dataclass(frozen=True)
class PlayParams:
    prompts: tuple[Prompt, ...]
    interruptible: bool = False


@dataclass(frozen=True)
class MenuParams:
    prompt: tuple[Prompt, ...]
    options: tuple[str, ...]  # the keys routed in ``on``
    retries: int = 2
    timeout_s: float = 5.0
    invalid_prompt: tuple[Prompt, ...] = ()
    no_input_prompt: tuple[Prompt, ...] = ()
    interruptible: bool = True


@dataclass(frozen=True)
class CollectParams:
    into: str
    digits: DigitSpec


@dataclass(frozen=True)
class SetParams:
    assignments: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class BranchCase:
    condition: Expr
    target: str
    loc: Location


@dataclass(frozen=True)
class BranchParams:
    cases: tuple[BranchCase, ...]


@dataclass(frozen=True)
class TimeRange:
    start_min: int  # minutes after midnight, local time
    end_min: int  # exclusive; 1440 = midnight at the end of the day

    def __str__(self) -> str:
        return f"{self.start_min // 60:02d}:{self.start_min % 60:02d}-{self.end_min // 60:02d}:{self.end_min % 60:02d}"


@dataclass(frozen=True)
class Schedule:
    name: str
    timezone: str
    week: tuple[tuple[TimeRange, ...], ...]  # Monday first, 7 entries
    holidays: frozenset[str]  # 'YYYY-MM-DD' or yearly 'MM-DD'
    special: Mapping[str, tuple[TimeRange, ...]]  # 'YYYY-MM-DD' -> hours that day
    loc: Location

    def state(self, epoch: float) -> str:
        """``open``, ``closed`` or ``holiday`` at ``epoch`` in the schedule's time zone."""
        local = dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone))
        day = local.date().isoformat()
        minute = local.hour * 60 + local.minute
        if day in self.special:
            ranges = self.special[day]
        elif day in self.holidays or day[5:] in self.holidays:
            return "holiday"
        else:
            ranges = self.week[local.weekday()]
        return "open" if any(r.start_min <= minute < r.end_min for r in ranges) else "closed"


@dataclass(frozen=True)
class ScheduleParams:
    schedule: Schedule


@dataclass(frozen=True)
class LookupParams:
    number: TextTemplate | None = None  # default: the caller id


@dataclass(frozen=True)
class IdentifyParams:
    account: TextTemplate


@dataclass(frozen=True)
class CollectAccountParams:
    into: str
    digits: DigitSpec
    not_found_prompt: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class VerifyParams:
    digits: DigitSpec
    attempts: int = 3
    failed_prompt: tuple[Prompt, ...] = ()
    date_kind: str = "dob"  # verify_date only: which date on file
    date_format: str = "DDMMYYYY"


@dataclass(frozen=True)
class HttpParams:
    method: str
    url: TextTemplate
    query: tuple[tuple[str, TextTemplate], ...] = ()
    headers: tuple[tuple[str, TextTemplate], ...] = ()
    json_body: Any = None  # frozen structure whose strings are TextTemplates
    body: TextTemplate | None = None
    timeout_s: float = 3.0
    retries: int = 1
    retry_delay_s: float = 0.3
    wait_prompt: tuple[Prompt, ...] = ()
    save: tuple[tuple[str, str], ...] = ()  # (variable, response path)
    status_into: str | None = None


@dataclass(frozen=True)
class SkillSpec:
    skill: TextTemplate
    min_proficiency: int = 1
    required: bool = True
    when: Expr | None = None


@dataclass(frozen=True)
class QueueParams:
    queue: TextTemplate
    skills: tuple[SkillSpec, ...] = ()
    priority: Expr | None = None
    language: TextTemplate | None = None
    vip: Expr | None = None
    attributes: tuple[tuple[str, TextTemplate], ...] = ()
    prompt: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class TransferParams:
    number: TextTemplate | None = None
    context: TextTemplate | None = None
    exten: TextTemplate | None = None
    priority: TextTemplate | None = None
    number_context: str = "acd-transfer"
    variables: tuple[tuple[str, TextTemplate], ...] = ()
    prompt: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class VoicemailParams:
    mailbox: TextTemplate
    context: str = "acd-voicemail"
    prompt: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class CallbackParams:
    queue: TextTemplate
    number: TextTemplate | None = None  # default: the caller id
    ask_number: DigitSpec | None = None  # collect a number when none is known (or always)
    always_ask: bool = False
    note: TextTemplate | None = None


@dataclass(frozen=True)
class TaskParams:
    """A follow-up task on the caller's customer (``acd.tasks``)."""

    type: TextTemplate
    title: TextTemplate | None = None
    queue: TextTemplate | None = None
    agent: TextTemplate | None = None
    due: TextTemplate | None = None
    priority: str | None = None
    note: TextTemplate | None = None
    number: TextTemplate | None = None


@dataclass(frozen=True)
class SubflowParams:
    flow: str
    inputs: tuple[tuple[str, Expr], ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LanguageParams:
    language: TextTemplate


@dataclass(frozen=True)
class HangupParams:
    prompt: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class ReturnParams:
    outcome: str


@dataclass(frozen=True)
class Step:
    name: str
    action: str
    params: Any
    routes: Mapping[str, str]  # outcome -> step
    default: str | None  # ``next``
    loc: Location
    note: str = ""

    def target(self, outcome: str) -> str | None:
        """Where ``outcome`` goes: its own route, the outcome it defaults to, then ``next``."""
        if outcome in self.routes:
            return self.routes[outcome]
        fallback = OUTCOME_DEFAULTS.get(self.action, {}).get(outcome)
        if fallback and fallback in self.routes:
            return self.routes[fallback]
        if outcome == "error":
            return None  # the flow's on_failure handles it
        return self.default

    def is_terminal(self, outcome: str) -> bool:
        return outcome in TERMINAL_OUTCOMES.get(self.action, frozenset())


# --------------------------------------------------------------------------- flow-level policies
@dataclass(frozen=True)
class VerificationPolicy:
    """Which passed checks make a caller ``identified`` or ``verified``.

    Methods: ``caller_id`` (one customer found by caller id), ``account`` (an account number the
    caller gave matched a customer), ``pin``, ``date`` (any memorable date), ``dob``.
    A caller is verified when every method of any one set in ``verified`` passed."""

    identified: tuple[str, ...] = ("caller_id", "account")
    verified: tuple[tuple[str, ...], ...] = (("account", "pin"), ("caller_id", "pin"), ("account", "date"), ("caller_id", "date"))

    def level(self, passed: set[str] | frozenset[str]) -> str:
        if any(all(m in passed for m in group) for group in self.verified):
            return "verified"
        if any(m in passed for m in self.identified):
            return "identified"
        return "none"


VERIFICATION_METHODS = ("caller_id", "account", "pin", "date", "dob")


@dataclass(frozen=True)
class FailurePolicy:
    prompt: tuple[Prompt, ...]
    queue: str | None = None  # None: the registry's fallback queue
    priority: int = 0


@dataclass(frozen=True)
class CurrencySounds:
    major: str = "dollars"
    minor: str = "cents"
    conjunction: str = "and"
    minus: str = "minus"


@dataclass(frozen=True)
class CompiledFlow:
    name: str
    file: str
    version: FlowVersion
    start: str
    steps: Mapping[str, Step]
    description: str = ""
    numbers: tuple[str, ...] = ()
    language: str = "en"
    timezone: str = "UTC"
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    variables: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    verification: VerificationPolicy = field(default_factory=VerificationPolicy)
    on_failure: FailurePolicy | None = None
    currency: CurrencySounds = field(default_factory=CurrencySounds)
    returns: frozenset[str] = frozenset()
    subflows: frozenset[str] = frozenset()
    sounds: frozenset[str] = frozenset()  # every sound file the flow can play (for the recording list)
    loc: Location = Location("<unknown>", 1, 1)
    # steps from which the caller's next keys are a secret (see ``secret_input_ahead``)
    secret_ahead: frozenset[str] = frozenset()

    def outcomes_of(self, step: Step) -> tuple[str, ...]:
        return step_outcomes(step)


def step_outcomes(step: Step, subflow_returns: frozenset[str] | None = None) -> tuple[str, ...]:
    """Outcomes ``step`` can give (a subflow's are its flow's return values, when known)."""
    if step.action == "menu":
        return tuple(step.params.options) + ACTION_OUTCOMES["menu"]
    if step.action == "branch":
        return tuple(f"case{i + 1}" for i in range(len(step.params.cases))) + ("else",)
    if step.action == "subflow":
        return tuple(sorted(subflow_returns)) if subflow_returns is not None else tuple(step.routes)
    return ACTION_OUTCOMES[step.action]


# Steps that read secret digits, and steps that play nothing and read nothing (the keys a caller
# types ahead pass through them to whatever reads next).
_READS_SECRET = ("verify_pin", "verify_date")
_SILENT = ("set", "branch", "schedule", "lookup_caller", "identify", "language")


def reads_secret(step: Step) -> bool:
    if step.action in _READS_SECRET:
        return True
    return step.action == "collect" and bool(step.params.digits.secret)


def secret_input_ahead(steps: Mapping[str, Step]) -> frozenset[str]:
    """Names of the steps from which the next keys the caller types may be a secret: the steps
    that read secret digits, and the silent steps with an edge to one of those. A prompt whose
    next step is in this set precedes secret input: the keys typed into it (type-ahead) are
    secret from the first, and the recording is muted before it plays."""
    ahead = {name for name, step in steps.items() if reads_secret(step)}
    changed = True
    while changed:
        changed = False
        for name, step in steps.items():
            if name not in ahead and step.action in _SILENT and any(t in ahead for _, t in step_edges(step)):
                ahead.add(name)
                changed = True
    return frozenset(ahead)


def step_edges(step: Step, subflow_returns: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """(outcome, target step) for every outcome of ``step`` that leads to another step."""
    edges: list[tuple[str, str]] = []
    if step.action == "branch":
        edges = [(f"case{i + 1}", c.target) for i, c in enumerate(step.params.cases)]
        if step.default:
            edges.append(("else", step.default))
        if "error" in step.routes:
            edges.append(("error", step.routes["error"]))
        return edges
    outcomes = list(step_outcomes(step, subflow_returns))
    for outcome in list(step.routes):
        if outcome not in outcomes:
            outcomes.append(outcome)
    for outcome in outcomes:
        if step.is_terminal(outcome) and outcome not in step.routes:
            continue
        target = step.target(outcome)
        if target:
            edges.append((outcome, target))
    if step.action == "subflow" and subflow_returns is None and step.default:
        edges.append(("next", step.default))
    return edges
