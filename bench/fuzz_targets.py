"""What ``bench/fuzz.py`` fuzzes: each target turns a seeded ``random.Random`` into one input,
runs it, and may raise only its documented error types. Any other exception, or a broken
invariant (a round trip that does not come back, a decoder holding more than its cap), is a crash.

Seeds: the recorded Asterisk 22 sessions (``../shared/asterisk/transcripts`` and ``connect/``)
for the codecs, ``ivr_flows/`` for the flow compiler and the expression language."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from acd.agi.codec import (
    MAX_LINE, AgiAsteriskDecoder, AgiEngineDecoder, AgiEnvironment, Reply, encode_command, encode_environment,
    encode_reply, split_args,
)
from acd.agi.errors import AgiProtocolError
from acd.ami.codec import MAX_FRAME, AmiClientDecoder, AmiServerDecoder, encode_action, encode_event
from acd.ami.errors import AmiEncodeError, AmiProtocolError
from acd.flows.compiler import FlowCompileError, compile_flow_text, compile_schedules_text
from acd.flows.expr import ExprError, Scope, parse_expr
from acd.flows.template import parse_prompt, parse_text
from acd.secrets import Secret

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ROOT / "ivr_flows"


class Broken(AssertionError):
    """An invariant did not hold: counted as a crash."""


@dataclass(frozen=True)
class Target:
    name: str
    make: Callable[[random.Random], Any]  # one input
    run: Callable[[Any], None]
    documented: tuple[type[BaseException], ...]


# ------------------------------------------------------------------------------------ seeds
@cache
def _transcripts() -> tuple[list[bytes], list[bytes], list[bytes], list[bytes]]:
    """(AMI from Asterisk, AMI to Asterisk, AGI from Asterisk, AGI to Asterisk)."""
    sys.path.insert(0, str(ROOT))
    from tests.transcripts import agi_transcripts, ami_transcripts, read_transcript

    ami_in, ami_out, agi_in, agi_out = [], [], [], []
    for path in ami_transcripts():
        chunks = read_transcript(path)
        ami_in.append(b"".join(c.data for c in chunks if c.direction == "RECV"))
        ami_out.append(b"".join(c.data for c in chunks if c.direction == "SEND"))
    for path in agi_transcripts():
        chunks = read_transcript(path)
        agi_in.append(b"".join(c.data for c in chunks if c.direction == "AST>"))
        agi_out.append(b"".join(c.data for c in chunks if c.direction == "AGI>"))
    return [s for s in ami_in if s], [s for s in ami_out if s], [s for s in agi_in if s], [s for s in agi_out if s]


def _frames(streams: list[bytes], sep: bytes) -> list[bytes]:
    return [f + sep for s in streams for f in s.split(sep) if f]


@cache
def _ami_in_frames() -> list[bytes]:
    return _frames(_transcripts()[0], b"\r\n\r\n")


@cache
def _ami_out_frames() -> list[bytes]:
    return _frames(_transcripts()[1], b"\r\n\r\n")


@cache
def _agi_in_lines() -> list[bytes]:
    return _frames(_transcripts()[2], b"\n")


@cache
def _agi_out_lines() -> list[bytes]:
    return _frames(_transcripts()[3], b"\n")


@cache
def _flow_texts() -> list[str]:
    return [p.read_text() for p in sorted(FLOWS.glob("*.yaml")) if p.name != "schedules.yaml"]


@cache
def _flow_docs() -> list[Any]:
    return [yaml.safe_load(t) for t in _flow_texts()]


@cache
def _expressions() -> list[str]:
    """Every condition and ``{{ }}`` template written in the bundled flows, plus a few of each
    kind of operator, as the expression seeds."""
    found: set[str] = set()
    for text in _flow_texts():
        found.update(m.group(1) for m in re.finditer(r'if: "([^"]+)"', text))
        found.update(m.group(1).strip() for m in re.finditer(r"\{\{(.+?)\}\}", text))
    found.update([
        "len(items) > 2 and not empty(name)", "matches(digits(x), '[0-9]{4,6}')", "substr(name, 1, 2) + upper(name)",
        "customer['segment'] in ['gold', 'silver']", "round(balance * 1.5, 2) >= -3 or count % 2 == 0",
        "default(missing, 'x') == 'x'", "if(count > 2, first(items), last(items))", "int('12') + number('1.5')",
        "replace(name, 'a', 'b')", "min(1, 2, 3) - max(count, 4) / 2", "pin != null", "len(pin) == 4",
    ])
    return sorted(found)


# ------------------------------------------------------------------------------------ mutators
INTERESTING = [b"\r", b"\n", b"\r\n", b"\r\n\r\n", b":", b": ", b" ", b"\0", b"\xff", b"\xc3", b"(", b")", b'"', b"\\",
               b"-1", b"200 ", b"520-", b"HANGUP\n", b"Event: ", b"Response: Follows\r\n", b"--END COMMAND--", b"agi_", b"9" * 40]


def mutate_bytes(rng: random.Random, data: bytes, pool: list[bytes], rounds: int | None = None) -> bytes:
    b = bytearray(data)
    for _ in range(rounds if rounds is not None else rng.randint(1, 6)):
        op = rng.randrange(9)
        at = rng.randrange(len(b) + 1)
        if op == 0 and b:  # flip a bit
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert something interesting
            b[at:at] = rng.choice(INTERESTING)
        elif op == 2 and b:  # delete a range
            del b[at:at + rng.randint(1, 16)]
        elif op == 3:  # duplicate a range
            b[at:at] = b[at:at + rng.randint(1, 64)] * rng.randint(1, 4)
        elif op == 4 and pool:  # splice in a piece of another seed
            other = rng.choice(pool)
            i = rng.randrange(len(other))
            b[at:at] = other[i:i + rng.randint(1, 200)]
        elif op == 5 and b:  # random byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 6 and b:  # truncate
            del b[rng.randrange(len(b)):]
        elif op == 7:  # random bytes
            b[at:at] = rng.randbytes(rng.randint(1, 12))
        elif op == 8 and b:  # swap two ranges
            i, j = sorted((rng.randrange(len(b)), rng.randrange(len(b))))
            b[i:j] = b[i:j][::-1]
    return bytes(b)


def pieces(rng: random.Random, data: bytes) -> list[bytes]:
    """``data`` cut where a TCP stream might cut it."""
    if rng.random() < 0.3:
        return [data]
    out, i = [], 0
    while i < len(data):
        n = rng.choice((1, 2, 3, 7, 64, 512, 4096))
        out.append(data[i:i + n])
        i += n
    return out


def _stream(rng: random.Random, frames: list[bytes], pool: list[bytes], most: int = 12) -> bytes:
    body = b"".join(rng.choice(frames) for _ in range(rng.randint(1, most)))
    return mutate_bytes(rng, body, pool) if rng.random() < 0.9 else body


# ------------------------------------------------------------------------------------ AMI
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def make_ami_from_asterisk(rng: random.Random) -> list[bytes]:
    data = _stream(rng, _ami_in_frames(), _ami_in_frames())
    if rng.random() < 0.02:
        data += b"Event: Big\r\nData: " + b"x" * (MAX_FRAME + rng.randint(-10, 10)) + rng.choice([b"", b"\r\n\r\n"])
    return pieces(rng, (BANNER if rng.random() < 0.95 else b"") + data)


def run_ami_client_decoder(chunks: list[bytes]) -> None:
    dec = AmiClientDecoder()
    errors = 0
    for chunk in chunks:
        try:
            frames = dec.feed(chunk)
        except AmiProtocolError:
            errors += 1
            frames = dec.take_carried()
        for f in frames:
            if hasattr(f, "headers"):
                f.headers.items()
                f.get("Uniqueid")
                f.get("ActionID")
        if dec.buffered > MAX_FRAME + len(chunk):
            raise Broken(f"AMI client decoder holds {dec.buffered} bytes")
    if errors and not chunks:
        raise Broken("an error without input")


def make_ami_to_asterisk(rng: random.Random) -> list[bytes]:
    return pieces(rng, _stream(rng, _ami_out_frames(), _ami_out_frames()))


def run_ami_server_decoder(chunks: list[bytes]) -> None:
    dec = AmiServerDecoder()
    for chunk in chunks:
        try:
            actions = dec.feed(chunk)
        except AmiProtocolError:
            actions = dec.take_carried()
        for a in actions:
            a.name, a.action_id, a.headers.items()  # noqa: B018 - reading them is the test
        if dec.buffered > MAX_FRAME + len(chunk):
            raise Broken(f"AMI server decoder holds {dec.buffered} bytes")


_TEXT_CHARS = "aZ0 :-_./\r\n\t\0é€\x1b\x85\u2028\"'\\"


def _text(rng: random.Random, most: int = 12) -> str:
    return "".join(rng.choice(_TEXT_CHARS) if rng.random() < 0.3 else chr(rng.randrange(32, 127)) for _ in range(rng.randint(0, most)))


def make_ami_headers(rng: random.Random) -> tuple[str, str, list[tuple[str, Any]]]:
    kind = rng.choice(("action", "event"))
    name = rng.choice(("Originate", "Hangup", "Newchannel", "Ping", _text(rng)))
    headers = [(rng.choice(("Channel", "ActionID", "Variable", "CallerID", _text(rng, 6))), rng.choice((_text(rng, 40), rng.randint(-5, 5), True, None)))
               for _ in range(rng.randint(0, 8))]
    return kind, name, headers


def run_ami_encoders(case: tuple[str, str, list[tuple[str, Any]]]) -> None:
    """Encode; whatever encodes must decode back to the same headers (``AmiEncodeError`` otherwise)."""
    kind, name, headers = case
    data = (encode_action if kind == "action" else encode_event)(name, headers)
    want = [("Action" if kind == "action" else "Event", name)] + [(k, str(v) if not isinstance(v, bool) else ("true" if v else "false")) for k, v in headers]
    if kind == "action":
        (got,) = AmiServerDecoder().feed(data)
        items = got.headers.items()
    else:
        dec = AmiClientDecoder()
        (_, got_event) = dec.feed(BANNER + data)
        items = got_event.headers.items()
    if items != want:
        raise Broken(f"AMI round trip: sent {want!r}, decoded {items!r}")


# ------------------------------------------------------------------------------------ AGI
def make_agi_from_asterisk(rng: random.Random) -> tuple[int, list[bytes]]:
    streams = _transcripts()[2]
    base = rng.choice(streams)
    if rng.random() < 0.5:
        base += b"".join(rng.choice(_agi_in_lines()) for _ in range(rng.randint(0, 8)))
    data = mutate_bytes(rng, base, _agi_in_lines()) if rng.random() < 0.9 else base
    if rng.random() < 0.02:
        data += rng.choice((b"agi_x: y\n" * 300, b"a" * (MAX_LINE + 2), b"agi_y: " + b"z" * 9000 + b"\n"))
    return rng.choice((0, 1, 3, 100)), pieces(rng, data)


def run_agi_engine_decoder(case: tuple[int, list[bytes]]) -> None:
    expected, chunks = case
    dec = AgiEngineDecoder()
    dec.expect_reply(expected)
    replies = 0
    for chunk in chunks:
        try:
            frames = dec.feed(chunk)
        except AgiProtocolError as exc:
            frames = exc.frames
        for f in frames:
            if isinstance(f, Reply):
                replies += 1
                f.result_int  # noqa: B018
            elif isinstance(f, AgiEnvironment):
                f.arguments, f.dnis, f.linkedid  # noqa: B018
        if dec.buffered > MAX_LINE + len(chunk):
            raise Broken(f"AGI engine decoder holds {dec.buffered} bytes")
    if replies > expected:
        raise Broken(f"{replies} replies decoded for {expected} commands")


def make_agi_to_asterisk(rng: random.Random) -> list[bytes]:
    return pieces(rng, _stream(rng, _agi_out_lines(), _agi_out_lines(), 20))


def run_agi_asterisk_decoder(chunks: list[bytes]) -> None:
    dec = AgiAsteriskDecoder()
    for chunk in chunks:
        for cmd in dec.feed(chunk):
            cmd.known, cmd.dead_ok  # noqa: B018
        if dec.buffered > 2047:
            raise Broken(f"AGI Asterisk-side decoder holds {dec.buffered} bytes")


def make_agi_encoders(rng: random.Random) -> tuple[str, tuple[str, ...], dict[str, str], tuple]:
    name = rng.choice(("STREAM FILE", "GET DATA", "EXEC", "SET VARIABLE", "VERBOSE", "ANSWER"))
    args = tuple(_text(rng, 20) for _ in range(rng.choice((0, 1, 2, 5, 126, 127, 130))))
    env = {f"agi_{_text(rng, 6) or 'x'}": _text(rng, 30) for _ in range(rng.randint(0, 5))}
    reply = (rng.choice((200, 510, 511, 520)), rng.choice(("0", "-1", "35", "")), rng.choice((None, "timeout", _text(rng, 10))), rng.choice((None, 0, 3404)))
    return name, args, env, reply


def run_agi_encoders(case: tuple[str, tuple[str, ...], dict[str, str], tuple]) -> None:
    """Commands, environment blocks and replies: what encodes decodes back the same (``ValueError`` otherwise)."""
    name, args, env, (code, result, data, endpos) = case
    try:
        line = encode_command(name, *args)
    except ValueError:
        pass
    else:
        (cmd,) = AgiAsteriskDecoder().feed(line)
        if cmd.name != name or cmd.args != args:
            raise Broken(f"AGI command round trip: {name} {args!r} came back as {cmd.name} {cmd.args!r}")
        if split_args(line.decode().rstrip("\n"))[len(name.split()):] != list(args):
            raise Broken("split_args disagrees with the decoder")
    try:
        block = encode_environment(env)
    except ValueError:
        return
    dec = AgiEngineDecoder()
    dec.expect_reply()
    try:
        frames = dec.feed(block + encode_reply(code, result, data, endpos))
    except AgiProtocolError:
        if all(k.startswith("agi_") and ":" not in k[4:] for k in env):
            raise
        return
    got = frames[0]
    if not isinstance(got, AgiEnvironment) or {k: v for k, v in got.values.items()} != env:
        if all(": " not in k and ":" not in k and "\r" not in k for k in env):
            raise Broken(f"AGI environment round trip: {env!r} came back as {got!r}")


# ------------------------------------------------------------------------------------ flows
ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, float("nan"), 10**30, "", " ", "x" * 300, [], {}, [None], {"a": None},
                         "{{", "{{ 1 + }}", "on", "yes", "2026-13-45", "25:99-26:00", "(1)\\1", "../../etc/passwd", "\x00", "é", [1, [2, [3]]]]


def _tree_paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _tree_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _tree_paths(v, (*path, i))
    return out


def _mutate_tree(rng: random.Random, doc: Any) -> Any:
    import copy

    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 4)):
        paths = [p for p in _tree_paths(doc) if p]
        if not paths:
            return rng.choice(ODD_VALUES)
        path = rng.choice(paths)
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        op = rng.randrange(4)
        if op == 0:
            parent[path[-1]] = rng.choice(ODD_VALUES)
        elif op == 1 and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == 2 and isinstance(parent, dict):
            parent[rng.choice(("next", "on", "goto", "steps", "prompt", "validate", "if", "queue", _text(rng, 5)))] = rng.choice(ODD_VALUES)
        else:  # graft a subtree from elsewhere in the file
            src = doc
            for k in rng.choice(paths):
                src = src[k]
            parent[path[-1]] = copy.deepcopy(src)
    return doc


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's writer: making an input should not cost more than compiling it


def make_flow_text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        try:
            return yaml.dump(_mutate_tree(rng, rng.choice(_flow_docs())), Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
        except (yaml.YAMLError, ValueError, RecursionError):
            return rng.choice(_flow_texts())
    if r < 0.9:
        text = rng.choice(_flow_texts())
        lines = text.splitlines(keepends=True)
        start = rng.randrange(len(lines))
        excerpt = "".join(lines[:8] + lines[start:start + rng.randint(5, 60)])  # small inputs compile faster
        return mutate_bytes(rng, excerpt.encode(), [t.encode() for t in _flow_texts()]).decode("utf-8", errors="replace")
    return rng.choice(("", "[]", "flow:", "flow: x\nsteps: {}", "a: &x [*x]", "!!python/object:os.system {}", "{" * 200, "- " * 100,
                       "flow: x\nsteps:\n  a: {play: x, next: a}", "%YAML 1.1\n---\nflow: x"))


def run_flow_compiler(text: str) -> None:
    try:
        compile_flow_text(text, "fuzz.yaml")
    except FlowCompileError as exc:
        for p in exc.problems:
            str(p)  # every problem renders as file:line:col: message
    if text.startswith("schedules:"):
        compile_schedules_text(text, "fuzz.yaml")


# ------------------------------------------------------------------------------------ expressions
_TOKENS = ["(", ")", "[", "]", ",", ".", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "in",
           "true", "false", "null", "0", "1", "99999999999999999", "1.5", "'a'", '"b"', "''", "name", "count", "items", "pin",
           "customer", "call", "balance", "nothing", "len", "matches", "substr", "int", "number", "round", "'\\n'", "x", "_y"]


def make_expression(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.5:
        return mutate_bytes(rng, rng.choice(_expressions()).encode(), [e.encode() for e in _expressions()]).decode("utf-8", errors="replace")
    if r < 0.9:
        return " ".join(rng.choice(_TOKENS) for _ in range(rng.randint(1, 20)))
    return rng.choice(("(" * 60 + "1" + ")" * 60, "-" * 200 + "1", "not " * 100 + "true", "9" * 400, "'" + "a" * 20000 + "'",
                       "[" * 60 + "]" * 60, "matches(name, '(1+)+2')", "items[99999999999]", "substr(name, -99999999999)"))


_SCOPE = Scope([{"balance": -12.5, "count": 3, "name": "Ada", "digits_in": "012345", "items": [1, 2, 3], "x": "1+1",
                 "pin": Secret("1234"), "empty_text": "", "nothing": None},
                {"call": {"caller": "+441234567890", "verification": "verified"},
                 "customer": {"name": "Ada Lovelace", "vip": True, "segment": "gold", "attributes": {"tier": 2}}}])


def run_expression(text: str) -> None:
    try:
        parse_expr(text).evaluate(_SCOPE)
    except ExprError:
        pass
    template = "{{ " + text + " }}"
    try:
        parse_text(template).render(_SCOPE)
    except ExprError:
        pass
    try:
        parse_prompt("welcome " + template)
    except ExprError:
        pass


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("ami-client-decoder", make_ami_from_asterisk, run_ami_client_decoder, (AmiProtocolError,)),
    Target("ami-server-decoder", make_ami_to_asterisk, run_ami_server_decoder, (AmiProtocolError,)),
    Target("ami-encoders", make_ami_headers, run_ami_encoders, (AmiEncodeError,)),
    Target("agi-engine-decoder", make_agi_from_asterisk, run_agi_engine_decoder, (AgiProtocolError,)),
    Target("agi-asterisk-decoder", make_agi_to_asterisk, run_agi_asterisk_decoder, ()),
    Target("agi-encoders", make_agi_encoders, run_agi_encoders, (ValueError,)),
    Target("flow-compiler", make_flow_text, run_flow_compiler, (FlowCompileError,)),
    Target("expressions", make_expression, run_expression, (ExprError,)),
]}
