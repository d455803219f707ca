"""The compiler: schema errors with exact file:line:column, every semantic check, all errors at once."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from acd.flows.compiler import FlowCompileError, compile_flow_text, compile_schedules_text
from acd.flows.model import CompiledFlow

from .conftest import compile_yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "ivr_flows" / "schema.json"


def problems(text: str, **kwargs) -> list[str]:
    with pytest.raises(FlowCompileError) as info:
        compile_flow_text(textwrap.dedent(text), "f.yaml", **kwargs)
    return [str(p) for p in info.value.problems]


def test_schema_is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    # every action documented for editors
    assert {"play", "menu", "collect", "http", "queue", "verify_pin"} <= set(schema["$defs"]["step"]["properties"])


def test_minimal_flow_compiles_to_an_immutable_versioned_object():
    flow = compile_yaml("""
        flow: tiny
        steps:
          hello:
            play: hello-world
            next: bye
          bye:
            hangup: true
    """, loaded_at=1_800_000_000)
    assert isinstance(flow, CompiledFlow)
    assert flow.start == "hello" and list(flow.steps) == ["hello", "bye"]
    assert len(flow.version.content_hash) == 64 and flow.version.loaded_at == 1_800_000_000
    assert str(flow.version).startswith(flow.version.content_hash[:12] + "@2027-01-15")
    with pytest.raises(dataclasses.FrozenInstanceError):
        flow.start = "bye"  # frozen
    with pytest.raises(TypeError):
        flow.steps["x"] = None  # read-only mapping
    same = compile_yaml("""
        flow: tiny
        steps:
          hello:
            play: hello-world
            next: bye
          bye:
            hangup: true
    """)
    assert same.version.content_hash == flow.version.content_hash


@pytest.mark.parametrize("body, expected", [
    # an unknown key in a step: its line and column
    ("""\
flow: x
steps:
  a:
    play: hello
    nxt: b
  b:
    hangup: true
""", "f.yaml:5:5: step 'a': unknown field 'nxt'"),
    # wrong type deep in an action
    ("""\
flow: x
steps:
  a:
    menu:
      prompt: hello
      retries: many
    on: {"1": a}
    next: a
""", "f.yaml:6:7: step 'a': retries: expected integer, got str 'many'"),
    # missing required field
    ("""\
flow: x
steps:
  a:
    collect: {prompt: hello}
    next: a
""", "f.yaml:4:5: step 'a': 'into' is missing"),
    # no action
    ("""\
flow: x
steps:
  a:
    next: a
""", "f.yaml:3:3: step 'a': a step needs one action"),
    # two actions
    ("""\
flow: x
steps:
  a:
    play: hello
    hangup: true
""", "f.yaml:3:3: step 'a': a step has exactly one action, this one has 2: play, hangup"),
    # enum
    ("""\
flow: x
steps:
  a:
    http: {url: "http://x/", method: FETCH}
    next: a
""", "f.yaml:4:30: step 'a': method: 'FETCH' is not one of"),
    # top-level unknown key
    ("""\
flow: x
stpes: {}
steps:
  a:
    hangup: true
""", "f.yaml:2:1: unknown field 'stpes'"),
    # bad step name
    ("""\
flow: x
steps:
  bad-name:
    hangup: true
""", "f.yaml:3:3: "),
])
def test_schema_errors_have_exact_locations(body, expected):
    found = problems(body)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize("action", ["menu", "collect", "identify", "collect_account", "verify_pin", "verify_date",
                                    "http", "callback", "task"])
def test_an_action_that_needs_a_mapping_given_a_word_is_a_listed_problem(action):
    """Not a crash: the schema's problem names the step (the steps are still built to list every problem)."""
    found = problems(f"""\
flow: x
steps:
  a:
    {action}: hello
    next: a
""")
    assert any(p.startswith("f.yaml:4:") and "step 'a'" in p for p in found), found


def test_yaml_syntax_error_is_located():
    found = problems("flow: x\nsteps:\n  a:\n    play: [unclosed\n")
    assert found[0].startswith("f.yaml:") and "YAML syntax" in found[0]


def test_all_errors_are_reported_together():
    found = problems("""\
        flow: x
        variables: {n: 0}
        steps:
          a:
            play: "hello {{ n + }}"
            next: nowhere
          b:
            set: {m: "n +* 2"}
            next: a
          c:
            menu: {prompt: pick}
            on: {"1": a, bogus: a}
            on_invalid: a
            on_timeout: a
    """)
    text = "\n".join(found)
    assert "f.yaml:5:5: step 'a': prompt 'hello {{ n + }}': expected a value but found the end of the expression (at character 13)" in text
    assert "f.yaml:6:5: step 'a': goes to 'nowhere', which is not a step of this flow" in text
    assert "f.yaml:8:11: step 'b': expression 'n +* 2': expected a value but found '*' (at character 4)" in text
    assert "f.yaml:12:18: step 'c': menu has no outcome 'bogus' (its outcomes: 1, error, invalid, timeout)" in text
    assert "f.yaml:10:3: step 'c': no path from the start step 'a' reaches this step" in text
    assert len(found) == 6


# ---------------------------------------------------------------- semantic checks
def test_unknown_target_with_suggestion():
    found = problems("""\
        flow: x
        steps:
          a:
            play: hello
            next: goodby
          goodbye:
            hangup: true
    """)
    assert "f.yaml:5:5: step 'a': goes to 'goodby', which is not a step of this flow (did you mean 'goodbye'?)" in found


def test_unreachable_step():
    found = problems("""\
        flow: x
        steps:
          a:
            hangup: true
          lonely:
            play: hello
            next: a
    """)
    assert found == ["f.yaml:5:3: step 'lonely': no path from the start step 'a' reaches this step"]


def test_loop_without_input_is_refused_but_a_menu_loop_is_fine():
    found = problems("""\
        flow: x
        variables: {n: 0}
        steps:
          count:
            set: {n: n + 1}
            next: check
          check:
            branch:
              - if: n > 3
                goto: count
            next: count
    """)
    assert found == ["f.yaml:4:3: step 'count': loop without caller input: count -> check -> count would spin forever "
                     "(put a menu or collect step in the loop, or leave it)"]
    compile_yaml("""
        flow: x
        steps:
          ask:
            menu: {prompt: pick}
            on: {"1": again}
            next: bye
          again:
            play: hello
            next: ask
          bye:
            hangup: true
    """)


def test_self_loop_is_a_spin():
    found = problems("""\
        flow: x
        steps:
          a:
            play: hello
            next: a
    """)
    assert "loop without caller input: a -> a" in found[0]


def test_undefined_and_maybe_unset_variables():
    found = problems("""\
        flow: x
        steps:
          ask:
            collect: {prompt: enter, into: code}
            on: {ok: say}
            next: say
          say:
            play: "you-entered {{ code }}"
            next: check
          check:
            branch:
              - if: "cod == '1'"
                goto: bye
            next: bye
          bye:
            hangup: true
    """)
    assert "f.yaml:8:5: step 'say': variable 'code' may not be set when this step runs: it is set on some paths from the start but not all (give it a starting value under variables:)" in found
    assert "f.yaml:12:9: step 'check': undefined variable 'cod' (declare it under variables:, or set it in an earlier step) (did you mean 'code'?)" in found


def test_variables_set_on_every_path_are_fine_and_set_is_sequential():
    compile_yaml("""
        flow: x
        variables: {greeting: "'hi'"}
        steps:
          ask:
            collect: {prompt: enter, into: code}
            on: {ok: say}
            on_invalid: bye
            on_timeout: bye
          say:
            set: {a: "int(code)", b: "a * 2", c: "customer.name", d: "call.caller"}
            next: bye
          bye:
            hangup: {prompt: "bye {{ b }}"}
    """.replace("bye {{ b }}", "bye"))


def test_http_saved_variables_exist_only_on_ok():
    found = problems("""\
        flow: x
        steps:
          fetch:
            http: {url: "http://api/x", save: {balance: data.balance}}
            next: say
            on_error: say
          say:
            play: "b {{ balance }}"
            next: bye
          bye:
            hangup: true
    """)
    assert any("variable 'balance' may not be set" in p for p in found)


def test_outcomes_without_route_and_routes_for_impossible_outcomes():
    found = problems("""\
        flow: x
        steps:
          who:
            lookup_caller: true
            on: {found: bye, bogus: bye}
          bye:
            hangup: true
    """)
    assert "f.yaml:3:3: step 'who': outcome 'not_found' of lookup_caller has nowhere to go (add on: {not_found: <step>} or next:); multiple, withheld go where not_found goes unless routed" in found
    assert any("lookup_caller has no outcome 'bogus'" in p for p in found)


def test_defaulted_outcomes_need_no_route():
    flow = compile_yaml("""
        flow: x
        steps:
          hours:
            schedule: office
            on: {open: bye, closed: bye}
          bye:
            hangup: true
        schedules:
          office: {hours: {mon-fri: "09:00-17:00"}}
    """)
    assert flow.steps["hours"].target("holiday") == "bye"


def test_expression_syntax_in_every_place_is_checked():
    found = problems("""\
        flow: x
        steps:
          a:
            branch:
              - {if: "a ==", goto: b}
            next: b
          b:
            queue: {name: "q{{ 1 + }}", priority: "x y"}
    """)
    assert any("f.yaml:5:10: step 'a': expression 'a ==': expected a value" in p for p in found)
    assert "f.yaml:7:3: step 'b': outcome 'overflow' of queue has nowhere to go (add on: {overflow: <step>} or next:); callback, timeout go where overflow goes unless routed" in found
    assert any("step 'b': template 'q{{ 1 + }}'" in p for p in found)
    assert any("step 'b': expression 'x y'" in p for p in found)


def test_missing_prompts_are_found_in_sound_dirs(tmp_path):
    sounds = tmp_path / "sounds"
    (sounds / "en" / "acme").mkdir(parents=True)
    (sounds / "en" / "acme" / "hello.wav").write_bytes(b"")
    (sounds / "an-error-has-occurred.gsm").write_bytes(b"")
    text = """\
        flow: x
        steps:
          a:
            play: ["acme/hello", "acme/missing {{ 5 }}"]
            next: b
          b:
            hangup: {prompt: vm-goodbye}
    """
    found = problems(text, sound_dirs=[sounds])
    assert found == [
        f"f.yaml:4:26: step 'a': sound file 'acme/missing' is missing from the sound directories ({sounds})",
        f"f.yaml:7:14: step 'b': sound file 'vm-goodbye' is missing from the sound directories ({sounds})",
    ]
    (sounds / "vm-goodbye.ulaw").write_bytes(b"")
    (sounds / "en" / "acme" / "missing.sln16").write_bytes(b"")
    compile_flow_text(textwrap.dedent(text), "f.yaml", sound_dirs=[sounds])
    # no sound dir configured: the check is skipped
    compile_flow_text(textwrap.dedent(text.replace("vm-goodbye", "nothing-here")), "f.yaml")


def test_sound_dirs_follow_symlinked_folders(tmp_path):
    """Debian's /usr/share/asterisk/sounds/en is a symlink to the installed language folder: its
    files count, and a link loop inside does not hang the scan."""
    real = tmp_path / "installed" / "en"
    (real / "acme").mkdir(parents=True)
    (real / "acme" / "hello.gsm").write_bytes(b"")
    (real / "vm-goodbye.ulaw").write_bytes(b"")
    (real / "an-error-has-occurred.gsm").write_bytes(b"")
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    (sounds / "en").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(sounds, target_is_directory=True)
    text = """\
        flow: x
        steps:
          a:
            play: acme/hello
            next: b
          b:
            hangup: {prompt: vm-goodbye}
    """
    compile_flow_text(textwrap.dedent(text), "f.yaml", sound_dirs=[sounds])
    (real / "vm-goodbye.ulaw").unlink()
    assert problems(text, sound_dirs=[sounds]) == [
        f"f.yaml:7:14: step 'b': sound file 'vm-goodbye' is missing from the sound directories ({sounds})"]
    # the configured folder itself may be a symlink too
    (tmp_path / "link").symlink_to(sounds, target_is_directory=True)
    compile_flow_text(textwrap.dedent(text.replace("vm-goodbye", "acme/hello")), "f.yaml", sound_dirs=[tmp_path / "link"])


def test_currency_sounds_are_checked_when_money_is_said(tmp_path):
    sounds = tmp_path / "s"
    sounds.mkdir()
    for name in ("an-error-has-occurred", "balance", "and", "minus"):
        (sounds / f"{name}.wav").write_bytes(b"")
    found = problems("""\
        flow: x
        variables: {b: 1}
        currency: {major: pounds, minor: pence}
        steps:
          a:
            play: "balance {{ b | currency }}"
            next: z
          z:
            hangup: true
    """, sound_dirs=[sounds])
    assert [p.split(": ", 1)[1] for p in found] == [
        f"sound file 'pence' is missing from the sound directories ({sounds})",
        f"sound file 'pounds' is missing from the sound directories ({sounds})",
    ]


def test_schedules_are_checked():
    found = problems("""\
        flow: x
        timezone: Mars/Olympus
        schedules:
          office:
            hours: {mon-fri: "18:00-09:00", sat: "08:00-12:00", fri: "09:00-10:00"}
            holidays: ["2026-02-30"]
        steps:
          a:
            schedule: offise
            on: {open: b, closed: b}
          b:
            hangup: true
    """)
    text = "\n".join(found)
    assert "f.yaml:2:1: unknown time zone 'Mars/Olympus'" in text
    assert "the end is not after the start" in text
    assert "fri is given twice" in text
    assert "holiday '2026-02-30' is not a date" in text
    assert "f.yaml:9:5: step 'a': unknown schedule 'offise' (known: office)" in text


def test_schedule_state_with_timezone_holidays_and_special_days():
    flow = compile_yaml("""
        flow: x
        timezone: Europe/London
        schedules:
          office:
            hours: {mon-fri: "08:00-12:00, 13:00-18:00", sat: "09:00-13:00"}
            holidays: ["12-25", "2026-04-03"]
            special: {"2026-12-24": "08:00-10:00"}
          ny:
            timezone: America/New_York
            hours: {default: "09:00-17:00"}
        steps:
          a:
            schedule: office
            on: {open: b, closed: b}
          b:
            hangup: true
    """)
    import datetime as dt
    from zoneinfo import ZoneInfo

    def at(y, m, d, hh, mm, tz="Europe/London"):
        return dt.datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz)).timestamp()

    office = flow.steps["a"].params.schedule
    assert office.state(at(2026, 11, 24, 9, 0)) == "open"  # Tuesday
    assert office.state(at(2026, 11, 24, 12, 30)) == "closed"  # lunch
    assert office.state(at(2026, 11, 24, 18, 0)) == "closed"  # end is exclusive
    assert office.state(at(2026, 11, 29, 10, 0)) == "closed"  # Sunday
    assert office.state(at(2026, 7, 4, 10, 0)) == "open"  # Saturday, summer time
    assert office.state(at(2027, 12, 25, 10, 0)) == "holiday"  # yearly holiday
    assert office.state(at(2026, 4, 3, 10, 0)) == "holiday"
    assert office.state(at(2026, 12, 24, 9, 0)) == "open"
    assert office.state(at(2026, 12, 24, 11, 0)) == "closed"


def test_shared_schedules_file():
    shared = compile_schedules_text(textwrap.dedent("""\
        schedules:
          office:
            timezone: Europe/Paris
            hours: {mon-sun: "00:00-24:00"}
    """), "schedules.yaml")
    flow = compile_flow_text(textwrap.dedent("""\
        flow: x
        steps:
          a:
            schedule: office
            on: {open: b, closed: b}
          b:
            hangup: true
    """), "f.yaml", shared_schedules=shared, shared_hash="abc")
    assert flow.steps["a"].params.schedule.timezone == "Europe/Paris"
    with pytest.raises(FlowCompileError) as info:
        compile_schedules_text("schedules:\n  office:\n    hours: {funday: closed}\n", "schedules.yaml")
    assert str(info.value).startswith("schedules.yaml:3:13: the name 'funday' is not allowed here")


def test_subflow_and_transfer_forms_are_checked():
    found = problems("""\
        flow: x
        steps:
          a:
            transfer: {number: "123", exten: "100"}
          b:
            subflow: {flow: x}
            next: a
    """)
    text = "\n".join(found)
    assert "transfer needs either number: or context:/exten:" in text
    assert "a flow cannot call itself as a subflow" in text


def test_on_key_variants_yaml_11():
    # 'on' is read as true by YAML 1.1 and menu keys as numbers: both still work
    flow = compile_yaml("""
        flow: x
        steps:
          m:
            menu: {prompt: pick}
            on:
              1: a
              "*": a
            next: a
          a:
            hangup: true
    """)
    assert flow.steps["m"].params.options == ("1", "*")


def test_patterns_re2_cannot_run_are_refused_with_file_line_and_field():
    """Issue #13.6: flows run RE2 (linear time). A backreference or lookaround would need a
    backtracking engine, so the flow is refused where the pattern is written; ``(1+)+2``, which
    froze Python's re, is fine."""
    found = problems("""\
        flow: x
        steps:
          a:
            collect: {prompt: enter, into: code, max_digits: 6, validate: {regex: '(1)\\1'}}
            next: b
          b:
            collect: {prompt: enter, into: other, max_digits: 6, validate: {regex: '(?=9)[0-9]+'}}
            next: c
          c:
            branch:
              - {if: "matches(code, '(?<!0)1')", goto: d}
            next: d
          d:
            collect: {prompt: enter, into: last, max_digits: 6, validate: {regex: '(1+)+2'}}
            next: e
          e:
            hangup: true
    """)
    regex = [p for p in found if "not supported" in p]
    assert len(regex) == 3, found
    assert regex[0].startswith("f.yaml:4:") and "validate.regex '(1)\\\\1'" in regex[0]
    assert regex[1].startswith("f.yaml:7:") and "validate.regex '(?=9)[0-9]+'" in regex[1]
    assert regex[2].startswith("f.yaml:11:") and "matches(): pattern '(?<!0)1'" in regex[2]
    assert not [p for p in found if "(1+)+2" in p]
