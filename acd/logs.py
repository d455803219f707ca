"""Structured logging: one line per event, the call id on every line of a call.

Usage::

    log = get_logger(__name__)
    log.event("agi.session.start", channel="PJSIP/caller-1", peer="127.0.0.1")

    with bind_call("1795355634.142"):
        log.event("flow.step", step="menu")     # carries call_id=1795355634.142

Values that are ``acd.secrets.Secret`` print as ``***``; fields whose name says they hold a
secret (pin, dob, secret, password, card...) are masked whatever their type, as a second net.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
from typing import Any, TextIO
from collections.abc import Iterator, MutableMapping

from acd.secrets import MASK, Secret

call_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("acd_call_id", default=None)

_SECRET_FIELD = re.compile(r"(pin|secret|password|passwd|dob|memorable|card|cvv|token)", re.I)


def mask_field(name: str, value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if _SECRET_FIELD.search(name) and value not in (None, ""):
        return MASK
    return value


@contextlib.contextmanager
def bind_call(call_id: str | None) -> Iterator[None]:
    """Every log line inside the block (and tasks it starts) carries ``call_id``."""
    token = call_id_var.set(call_id)
    try:
        yield
    finally:
        call_id_var.reset(token)


class EventLogger(logging.LoggerAdapter[logging.Logger]):
    def event(self, name: str, level: int = logging.INFO, /, **fields: Any) -> None:
        logger = self.logger
        if logger.isEnabledFor(level):
            # the record made directly: no formatter prints a source line, and finding the caller's
            # frame for one was over a third of a line's cost (63 -> 39 us in one run at load 7; six lines precede the Originate)
            logger.handle(logger.makeRecord(logger.name, level, "(unknown file)", 0, name, (), None, extra={"acd_fields": fields}))

    def warn_event(self, name: str, /, **fields: Any) -> None:
        self.event(name, logging.WARNING, **fields)

    def error_event(self, name: str, /, **fields: Any) -> None:
        self.event(name, logging.ERROR, **fields)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


def get_logger(name: str) -> EventLogger:
    return EventLogger(logging.getLogger(name), {})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(getattr(record, "acd_fields", {}) or {})
    call_id = call_id_var.get()
    if call_id and "call_id" not in fields:
        fields["call_id"] = call_id
    return {k: mask_field(k, v) for k, v in fields.items()}


# What must never reach a log raw: C0 controls (CR, LF, ESC...), DEL, C1 controls (a lone 0x9b is
# a terminal's CSI) and the Unicode line and paragraph separators. A caller id is caller-chosen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as a visible escape (``\\r``, ``\\x1b``)."""
    return _CONTROL.sub(_escape_char, text)


def _json_safe(text: str) -> str:
    """JSON text as ``json.dumps`` gives it, with DEL, C1 and U+2028/9 escaped too (json escapes C0 only)."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _plain(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\\') or _CONTROL.search(text):
        return _json_safe(json.dumps(text, ensure_ascii=False))
    return text


class KeyValueFormatter(logging.Formatter):
    """``2026-11-23T03:37:06.123Z INFO acd.agi.server agi.session.start channel=... call_id=...``"""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        parts = [f"{ts}.{ms:03d}Z", record.levelname, escape_controls(record.name), escape_controls(record.getMessage())]
        parts += [f"{k}={_plain(v)}" for k, v in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            exc = record.exc_info[1]
            line += f" exc={_plain(type(exc).__name__ + ': ' + str(exc))}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update({k: v if isinstance(v, (int, float, bool, type(None))) else str(v)
                    for k, v in _fields(record).items()})
        if record.exc_info:
            exc = record.exc_info[1]
            doc["exc"] = f"{type(exc).__name__}: {exc}"
        return _json_safe(json.dumps(doc, ensure_ascii=False))


# Sentences for the events an admin is most likely to meet on a command's standard error; any
# other event is shown as its name with its fields.
EVENT_TEXT = {
    "flow.queue.unknown": "a flow asked for queue {queue!r}, which is not in config/queues.yaml; the call went to the fallback queue",
    "flows.refused": "flow file {file} was refused: {problems}",
    "acd.store.unavailable": "the database did not answer ({op}: {error})",
    "acd.recording.failed": "recording call {call_id} failed: {error}",
}


class CliFormatter(logging.Formatter):
    """One readable line per warning for people at a terminal: ``acd: warning: <what happened>``,
    with the event's details (secrets masked as everywhere)."""

    def format(self, record: logging.LogRecord) -> str:
        name = record.getMessage()
        fields = _fields(record)
        template = EVENT_TEXT.get(name)
        text = None
        if template is not None:
            try:
                text = template.format(**fields)
            except (KeyError, IndexError, ValueError):
                text = None
        if text is None:
            detail = ", ".join(f"{k}={_plain(v)}" for k, v in fields.items())
            text = name.replace(".", " ").replace("_", " ") + (f" ({detail})" if detail else "") + f" [{name}]"
        line = f"acd: {record.levelname.lower()}: {escape_controls(text)}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line += f": {type(exc).__name__}: {escape_controls(str(exc))}"
        return line


class _CliHandler(logging.StreamHandler[TextIO]):
    """Writes to the standard error of the moment (a test or a caller may have swapped it)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream is not None

    def emit(self, record: logging.LogRecord) -> None:
        if not self._fixed:
            self.stream = sys.stderr
        super().emit(record)


def configure_cli(stream: TextIO | None = None) -> None:
    """For the ``acd`` tools: warnings and errors as readable lines on standard error, unless
    the command configures logging itself (``serve``, ``demo`` call ``configure``)."""
    root = logging.getLogger()
    if any(isinstance(h, _CliHandler) for h in root.handlers) or (root.handlers and stream is None):
        return
    handler = _CliHandler(stream)
    handler.setFormatter(CliFormatter())
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def configure(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
