"""Attack (issue #13, item 6): a flow author's pattern that makes a backtracking engine explode.

``(1+)+2`` against 27 ones stopped Python's ``re`` (and so the whole event loop, ``/healthz`` too)
for 9.5 s; each further digit doubles that. Flows now run RE2, which is linear: the caller's 27
digits are judged at once, the expression ``matches()`` on 54 digits (hours for ``re``) as well,
and the engine answers ``/healthz`` all the while. A pattern RE2 cannot run is refused when the
flow loads, with file and line (see tests/flows/test_compiler.py)."""

from __future__ import annotations

import asyncio
import textwrap

import aiohttp

from acd.sim import CallerScript

FLOW = """\
flow: regex_line
numbers: ["5551234"]
steps:
  ask:
    collect: {prompt: welcome, into: code, max_digits: 30, retries: 0}
    on: {ok: check, invalid: bye, timeout: bye}
  check:
    branch:
      - {if: "matches(code + code, '(1+)+2')", goto: bye}
    next: validate
  validate:
    collect: {prompt: welcome, into: again, max_digits: 30, retries: 0, validate: {regex: "(1+)+2"}}
    on: {ok: bye, invalid: judged, timeout: bye}
  judged:
    play: {prompt: an-error-has-occurred}
    next: bye
  bye:
    hangup: {prompt: vm-goodbye}
"""

async def test_a_backtracking_pattern_neither_stalls_the_call_nor_the_engine(make_engine, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "regex_line.yaml").write_text(textwrap.dedent(FLOW))
    engine = await make_engine(n_agents=1, engine_yaml=f"flows:\n  directory: {flows}\n  default_flow: regex_line\n")
    base = f"http://127.0.0.1:{engine.http_port}"
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900123", dnis="5551234", keys=",".join(["1" * 27 + "#"] * 2), think_s=0.1, inter_digit_s=0.01))
    health: list[int] = []
    # a backtracking engine would hold the loop for hours here, so every one of these would time out
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        finished = asyncio.ensure_future(call.finished(30))
        while not finished.done():
            async with session.get(base + "/healthz") as r:
                health.append(r.status)
            await asyncio.sleep(0.05)
        outcome = await finished
    assert outcome.ended is not None and not outcome.fallback
    assert "".join(k.digit for k in outcome.keys) == ("1" * 27 + "#") * 2
    # 54 ones do not match (1+)+2, so on to the second question; 27 ones do not either: invalid
    assert outcome.prompts[-2:] == ["an-error-has-occurred", "vm-goodbye"], outcome.prompts
    assert health and set(health) == {200}
