"""In-memory ports and a scripted caller, for tests and for ``acd flows run``.

They behave like the real thing where it matters to a flow (a PIN is checked and failures lock
the customer; the queue returns the outcome it is told to; the scripted channel presses keys only
when the flow gives the caller a chance and hangs up when the script runs out), and they keep a
transcript of what happened for assertions and for the CLI's printout.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

from acd.agi.errors import AgiHangup
from acd.events import CallEvent, FlowStep, kind_of
from acd.flows.ports_extra import (
    CallbackRequest,
    CallContext,
    HttpPortError,
    HttpRequest,
    HttpResponse,
    QueueOutcome,
)
from acd.ports import CustomerSummary, DigitsResult, QueueRequest, StreamResult, VerifyResult
from acd.secrets import Secret


# --------------------------------------------------------------------------- the caller
@dataclass(frozen=True)
class ChannelEvent:
    kind: str  # play | say_digits | say_number | say_date | key | wait | set | exec | hangup | answer
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".rstrip()


class ScriptedChannel:
    """A caller that types scripted key groups: ``["1", "2345#", "", "9"]``.

    A group starts at the caller's next chance to type (a prompt that keys may cut short, or a
    wait for a key) and its keys come one by one; once a group is used up, the caller waits in
    silence (waits time out) until the next prompt, where the next group starts. An empty group
    is a caller who types nothing at that point. When the script is over and the flow waits for a
    key again, the caller hangs up (``AgiHangup``), unless ``hangup_at_end`` is false.
    """

    def __init__(self, keys: Sequence[str] | str, *, hangup_at_end: bool = True,
                 on_event: Callable[[ChannelEvent], None] | None = None) -> None:
        if isinstance(keys, str):
            keys = keys.split(",") if keys else []
        self.groups = [g.strip() for g in keys]
        self.hangup_at_end = hangup_at_end
        self.events: list[ChannelEvent] = []
        self.variables: dict[str, str] = {}
        self.current: str | None = None  # the open group's remaining keys; None: no group open
        self.fresh = False  # the open group has not been touched yet (no key, no wait)
        self.hung_up = False
        self._on_event = on_event

    # ---- helpers
    def _event(self, kind: str, detail: str = "") -> None:
        ev = ChannelEvent(kind, detail)
        self.events.append(ev)
        if self._on_event:
            self._on_event(ev)

    def _check(self) -> None:
        if self.hung_up:
            raise AgiHangup("the caller has hung up")

    def _open_group(self, *, waiting: bool = False) -> None:
        if self.groups:
            self.current = self.groups.pop(0)
            self.fresh = True
        elif self.hangup_at_end and waiting:
            self.hung_up = True
            self._event("hangup", "(caller: end of script)")
            raise AgiHangup("the scripted caller hung up: end of the key script")
        elif self.hangup_at_end:  # script over: the next wait for a key hangs up
            self.current, self.fresh = None, False
        else:  # script over: the caller stays on the line, silent
            self.current, self.fresh = "", True

    def _chance(self) -> None:
        """A prompt keys may cut short: the next group starts unless the open one is untouched."""
        if self.current is None or (self.current == "" and not self.fresh):
            self._open_group()

    def _press(self) -> str | None:
        if self.current:
            d, self.current = self.current[0], self.current[1:]
            self.fresh = False
            self._event("key", d)
            return d
        return None

    def keys_left(self) -> str:
        return ",".join(([self.current] if self.current else []) + self.groups)

    # ---- CallChannel
    async def answer(self) -> None:
        self._check()
        self._event("answer")

    async def stream_file(self, filename: str, escape_digits: str = "", offset: int = 0) -> StreamResult:
        self._check()
        self._event("play", filename)
        if escape_digits:
            self._chance()
            if self.current and self.current[0] in escape_digits:
                return StreamResult(self._press(), 100)
        return StreamResult(None, 1000)

    async def get_data(self, filename: str, timeout_ms: int | None = None, max_digits: int | None = None) -> DigitsResult:
        self._check()
        self._event("play", filename)
        self._chance()
        digits = ""
        while self.current and (max_digits is None or len(digits) < max_digits):
            d = self._press()
            if d == "#":
                break
            digits += d or ""
        return DigitsResult(digits, not digits)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._check()
        if self.current is None:
            self._open_group(waiting=True)
        d = self._press()
        if d is None:
            self._event("wait", f"{timeout_ms / 1000:g}s, no key")
            self.current = None  # the caller stays silent until the next prompt
        return d

    async def _say(self, kind: str, text: str, escape_digits: str) -> str | None:
        self._check()
        self._event(kind, text)
        if escape_digits:
            self._chance()
            if self.current and self.current[0] in escape_digits:
                return self._press()
        return None

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return await self._say("say_digits", digits, escape_digits)

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return await self._say("say_number", str(number), escape_digits)

    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None:
        import time as _t

        return await self._say("say_date", _t.strftime("%Y-%m-%d", _t.gmtime(epoch_seconds)), escape_digits)

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value
        self._event("set", f"{name}={value}")

    async def exec(self, application: str, *args: str) -> int:
        self._check()
        self._event("exec", f"{application}({','.join(args)})")
        return 0

    async def hangup(self) -> None:
        self._event("hangup", "(flow)")
        self.hung_up = True

    # ---- assertions
    def played(self) -> list[str]:
        return [e.detail for e in self.events if e.kind == "play"]


# --------------------------------------------------------------------------- customers and verification
class MemoryDirectory:
    def __init__(self) -> None:
        self.customers: dict[str, CustomerSummary] = {}
        self.phones: dict[str, list[str]] = {}
        self.fail_with: Exception | None = None  # make every lookup raise (tests of failures)

    def add(self, customer: CustomerSummary, phones: Iterable[str] = ()) -> None:
        self.customers[customer.customer_id] = customer
        for p in phones:
            self.phones.setdefault(p, []).append(customer.customer_id)

    async def find_by_phone(self, e164: str) -> list[CustomerSummary]:
        if self.fail_with:
            raise self.fail_with
        return [self.customers[c] for c in self.phones.get(e164, [])]

    async def find_by_account(self, account_number: str) -> CustomerSummary | None:
        if self.fail_with:
            raise self.fail_with
        for c in self.customers.values():
            if c.account_number == account_number:
                return c
        return None


class MemoryVerification:
    """PINs and dates kept as ``Secret``s; ``max_failures`` wrong answers lock the customer."""

    def __init__(self, *, max_failures: int = 3) -> None:
        self.pins: dict[str, Secret] = {}
        self.dates: dict[tuple[str, str], Secret] = {}
        self.failures: dict[str, int] = {}
        self.max_failures = max_failures
        self.audit: list[tuple[str, str, str]] = []  # (customer, method, result): never digits

    def set_pin(self, customer_id: str, pin: str) -> None:
        self.pins[customer_id] = Secret(pin)

    def set_date(self, customer_id: str, kind: str, digits: str) -> None:
        """``digits`` as YYYYMMDD (what the interpreter sends, whatever the flow asks for)."""
        self.dates[(customer_id, kind)] = Secret(digits)

    async def is_locked(self, customer_id: str, caller_number: str | None) -> bool:
        return self.failures.get(customer_id, 0) >= self.max_failures

    def _check(self, customer_id: str, method: str, stored: Secret | None, given: Secret) -> VerifyResult:
        if self.failures.get(customer_id, 0) >= self.max_failures:
            result = VerifyResult.LOCKED
        elif stored is None:
            result = VerifyResult.NO_SECRET
        elif stored == given:
            self.failures[customer_id] = 0
            result = VerifyResult.OK
        else:
            self.failures[customer_id] = self.failures.get(customer_id, 0) + 1
            result = VerifyResult.LOCKED if self.failures[customer_id] >= self.max_failures else VerifyResult.FAILED
        self.audit.append((customer_id, method, result.value))
        return result

    async def verify_pin(self, customer_id: str, pin: Secret, caller_number: str | None, call_id: str) -> VerifyResult:
        return self._check(customer_id, "pin", self.pins.get(customer_id), pin)

    async def verify_date(self, customer_id: str, kind: str, date_digits: Secret, caller_number: str | None, call_id: str) -> VerifyResult:
        return self._check(customer_id, kind, self.dates.get((customer_id, kind)), date_digits)


# --------------------------------------------------------------------------- record, queue, callbacks, recording
@dataclass
class ListRecorder:
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    typed: list[tuple[str, CallEvent]] = field(default_factory=list)

    def event(self, call_id: str, event: CallEvent) -> None:
        self.typed.append((call_id, event))
        self.events.append((call_id, kind_of(event), event.to_record()))

    def kinds(self) -> list[str]:
        return [k for _, k, _ in self.events]

    def steps(self) -> list[tuple[str, str]]:
        return [(e.step, e.outcome) for _, e in self.typed if isinstance(e, FlowStep)]


class ScriptedQueue:
    """Returns the given outcomes in turn (the last one repeats); keeps every request."""

    def __init__(self, outcomes: Sequence[str] = ("answered",), *, fail_with: Exception | None = None) -> None:
        self.outcomes = list(outcomes) or ["answered"]
        self.requests: list[tuple[CallContext, QueueRequest]] = []
        self.fail_with = fail_with

    async def enqueue(self, call: CallContext, request: QueueRequest) -> QueueOutcome:
        self.requests.append((call, request))
        if self.fail_with:
            raise self.fail_with
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        return QueueOutcome(outcome)


class MemoryCallbacks:
    def __init__(self) -> None:
        self.requests: list[CallbackRequest] = []
        self._ids = itertools.count(1)

    async def request_callback(self, request: CallbackRequest) -> str:
        self.requests.append(request)
        return f"cb-{next(self._ids)}"


class MemoryRecording:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.muted = False

    async def mute(self) -> None:
        self.calls.append("mute")
        self.muted = True

    async def unmute(self) -> None:
        self.calls.append("unmute")
        self.muted = False


class StubHttp:
    """Canned HTTP answers by URL prefix, for offline runs: ``{"https://api/balance": (200, {...})}``.
    An unknown URL is refused like a server that is down."""

    def __init__(self, routes: Mapping[str, tuple[int, Any]] | None = None) -> None:
        self.routes = dict(routes or {})
        self.requests: list[HttpRequest] = []

    async def request(self, request: HttpRequest) -> HttpResponse:
        import json as _json

        self.requests.append(request)
        for prefix, (status, body) in sorted(self.routes.items(), key=lambda kv: -len(kv[0])):
            if request.url.startswith(prefix):
                data = body if isinstance(body, bytes) else _json.dumps(body).encode()
                return HttpResponse(status, data, "application/json")
        raise HttpPortError(f"connection refused: {request.url}")
