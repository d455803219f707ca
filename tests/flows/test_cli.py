"""``acd flows validate|graph|run``."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from acd.cli import main

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"


@pytest.mark.parametrize("argv", [["flows", "--help"], ["flows", "validate", "--help"], ["flows", "graph", "--help"],
                                  ["flows", "run", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: acd flows" in capsys.readouterr().out


def test_flows_without_action_prints_help(capsys):
    assert main(["flows"]) == 2
    assert "validate" in capsys.readouterr().out


def test_validate_bundled_flows(capsys):
    assert main(["flows", "validate", str(FLOWS)]) == 0
    out = capsys.readouterr().out
    assert "ok  main" in out and "ok  verify_caller" in out


def test_validate_lists_every_error_and_fails(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text(textwrap.dedent("""\
        flow: a
        steps:
          start:
            play: hello
            next: nowhere
          orphan:
            hangup: true
    """))
    (tmp_path / "b.yaml").write_text(textwrap.dedent("""\
        flow: b
        steps:
          start:
            branch:
              - {if: "x >", goto: start}
            nxt: start
    """))
    assert main(["flows", "validate", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert f"{tmp_path}/a.yaml:5:5: step 'start': goes to 'nowhere', which is not a step of this flow" in lines
    assert f"{tmp_path}/a.yaml:6:3: step 'orphan': no path from the start step 'start' reaches this step" in lines
    assert any(line.startswith(f"{tmp_path}/b.yaml:5:10: step 'start': expression 'x >'") for line in lines)
    assert any(line.startswith(f"{tmp_path}/b.yaml:6:5: step 'start': unknown field 'nxt'") for line in lines)
    assert "problem(s) in 2 file(s)" in captured.err


def test_validate_one_file_and_sound_dir(tmp_path, capsys):
    f = tmp_path / "one.yaml"
    f.write_text("flow: one\nsteps:\n  a:\n    hangup: {prompt: bye-now}\n")
    assert main(["flows", "validate", str(f)]) == 0
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    (sounds / "an-error-has-occurred.wav").write_bytes(b"")
    assert main(["flows", "validate", str(f), "--sound-dir", str(sounds)]) == 1
    out = capsys.readouterr().out
    assert f"{f}:4:14: step 'a': sound file 'bye-now' is missing from the sound directories ({sounds})" in out


def test_validate_missing_path(tmp_path, capsys):
    assert main(["flows", "validate", str(tmp_path / "nope")]) == 2


def test_graph_dot_and_mermaid(capsys):
    assert main(["flows", "graph", "verify_caller", "--dir", str(FLOWS)]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "verify_caller"') and '"by_caller_id" -> "ask_pin" [label="found"]' in dot
    assert main(["flows", "graph", str(FLOWS / "main.yaml"), "--format", "mermaid"]) == 0
    mm = capsys.readouterr().out
    assert mm.startswith("flowchart TD") and 's_main_menu -->|"3"| s_lost_card' in mm


# ./dev test installs Graphviz: without dot this test fails, as a user's `graph --format svg` would
def test_graph_svg(tmp_path, capsys):
    out = tmp_path / "main.svg"
    assert main(["flows", "graph", "main", "--dir", str(FLOWS), "--format", "svg", "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_graph_svg_without_dot_says_what_to_do(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["flows", "graph", "main", "--dir", str(FLOWS), "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert "Graphviz 'dot'" in err and "--format dot" in err and "--format mermaid" in err


def test_graph_unknown_flow(capsys):
    assert main(["flows", "graph", "nosuch", "--dir", str(FLOWS)]) == 1
    assert "no flow 'nosuch'" in capsys.readouterr().err


def test_run_prints_a_transcript(capsys):
    code = main(["flows", "run", "main", "--dir", str(FLOWS), "--caller", "+441234567890", "--keys", "1,2345#,3",
                 "--at", "2026-11-24T10:00"])
    out = capsys.readouterr().out
    assert code == 0
    assert "play  acme/welcome-to-acme-bank" in out
    assert "key   caller presses 2" in out
    assert "= verify_caller.ask_pin [verify_pin] -> ok" in out
    assert "= lost_card [queue] -> answered" in out
    assert "queued: cards skills [cards>=2] priority 10" in out
    assert "result: answered" in out
    assert not [line for line in out.splitlines() if line.startswith("  =") and "2345" in line]  # PIN never in the record


def test_run_auto_picks_by_dnis_and_reports_unused_keys(capsys):
    code = main(["flows", "run", "auto", "--dir", str(FLOWS), "--dnis", "+442071234567", "--keys", "1,2345#,4,9",
                 "--at", "2026-11-24T10:00"])
    out = capsys.readouterr().out
    assert code == 0 and "flow main" in out and "result: transferred" in out and "keys not used: 9" in out


def test_run_fallback_shown(tmp_path, capsys):
    (tmp_path / "f.yaml").write_text(textwrap.dedent("""\
        flow: f
        steps:
          fetch:
            http: {url: "http://127.0.0.1:9/x", retries: 0}
            next: bye
          bye:
            hangup: true
    """))
    code = main(["flows", "run", "f", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "! failure at fetch" in out and "result: fallback:answered" in out


def _config(tmp_path: Path) -> Path:
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "queues.yaml").write_text("queues:\n  - {name: general, skills: {general: 1}}\n  - {name: billing, skills: {billing: 2}}\n")
    (conf / "agents.yaml").write_text("agents:\n  - {id: a1, name: A, endpoint: PJSIP/a1, skills: {general: 3, billing: 3, french: 2}}\n")
    (conf / "engine.yaml").write_text("customers:\n  languages: [en, fr]\n")
    return conf


def test_validate_checks_queues_skills_and_languages_against_config(tmp_path, capsys):
    conf = _config(tmp_path)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bad.yaml").write_text(textwrap.dedent("""\
        flow: bad
        language: frr
        steps:
          ask:
            language: de
            next: q
          q:
            queue: {name: biling, skills: {bilings: 1}}
            next: bye
          bye:
            hangup: true
    """))
    (flows / "good.yaml").write_text("flow: good\nsteps:\n  q:\n    queue: {name: billing, skills: {french: 1}}\n    next: bye\n  bye:\n    hangup: true\n")
    assert main(["flows", "validate", str(flows), "--config", str(conf)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    bad = flows / "bad.yaml"
    assert f"{bad}:2:1: language 'frr' is not defined in {conf}/engine.yaml (customers.languages) (did you mean `fr`?)" in lines
    assert f"{bad}:5:5: step 'ask': language 'de' is not defined in {conf}/engine.yaml (customers.languages)" in lines
    assert f"{bad}:8:13: step 'q': queue 'biling' is not defined in {conf}/queues.yaml (did you mean `billing`?)" in lines
    assert any(line.startswith(f"{bad}:8:") and "skill 'bilings'" in line and "did you mean `billing`" in line for line in lines)
    # the valid file is still reported ok
    assert any(line.startswith("ok  good ") for line in lines)
    assert "4 problem(s) in 1 file(s); 1 file(s) ok" in captured.err
    # a name made by an expression is only known when the call runs: not checked
    (flows / "bad.yaml").unlink()
    (flows / "dyn.yaml").write_text("flow: dyn\nvariables: {q: billing}\nsteps:\n  q:\n    queue: {name: '{{ q }}'}\n    next: bye\n  bye:\n    hangup: true\n")
    assert main(["flows", "validate", str(flows), "--config", str(conf)]) == 0


def test_a_mistyped_key_says_did_you_mean_and_does_not_cascade(tmp_path, capsys):
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""\
        flow: t
        steps:
          hello:
            play: hello
            nxt: menu
          menu:
            menu: {prompt: choose}
            on: {"1": bye}
            on_timeout: bye
            on_invalid: bye
          bye:
            hangup: true
    """))
    assert main(["flows", "validate", str(tmp_path), "--config", str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"{tmp_path}/t.yaml:5:5: step 'hello': unknown field 'nxt': did you mean `next`?"]


def test_a_mistyped_step_name_says_did_you_mean_and_does_not_cascade(tmp_path, capsys):
    """`next: manu` is one problem, not one more for every step that only `menu` leads to."""
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""\
        flow: t
        steps:
          hello:
            play: hello
            next: manu
          menu:
            menu: {prompt: choose}
            on: {"1": sales}
            on_timeout: bye
            on_invalid: bye
          sales:
            play: hello
            next: bye
          bye:
            hangup: true
    """))
    assert main(["flows", "validate", str(tmp_path), "--config", str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"{tmp_path}/t.yaml:5:5: step 'hello': goes to 'manu', which is not a step of this flow (did you mean 'menu'?)"]


def test_graph_png(tmp_path, capsys):
    out = tmp_path / "main.png"
    assert main(["flows", "graph", "main", "--dir", str(FLOWS), "--format", "png", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "wrote" in capsys.readouterr().err


def test_cli_warnings_are_readable_lines_with_their_detail(capsys):
    import logging

    from acd.logs import CliFormatter, get_logger

    record = logging.LogRecord("acd.service.flowports", logging.ERROR, __file__, 1, "flow.queue.unknown", (), None)
    record.acd_fields = {"queue": "genral"}
    line = CliFormatter().format(record)
    assert line == ("acd: error: a flow asked for queue 'genral', which is not in config/queues.yaml; "
                    "the call went to the fallback queue")
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "acd.offer.cancel_failed", (), None)
    record.acd_fields = {"offer": "o-1", "pin": "1234"}
    line = CliFormatter().format(record)
    assert line.startswith("acd: warning: acd offer cancel failed (offer=o-1, pin=") and "1234" not in line
    assert line.endswith("[acd.offer.cancel_failed]")
    del get_logger


def test_the_engine_side_check_lists_unknown_names_of_a_flows_directory(tmp_path):
    from acd.flows.catalogue import directory_problems, load_catalogue

    conf = _config(tmp_path)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "a.yaml").write_text("flow: a\nsteps:\n  q:\n    queue: genral\n    next: bye\n  bye:\n    hangup: true\n")
    (flows / "schedules.yaml").write_text("schedules: {}\n")
    problems = directory_problems(flows, load_catalogue(conf))
    assert problems == [f"{flows}/a.yaml:4:5: queue 'genral' is not defined in {conf}/queues.yaml (did you mean `general`?)"]
    assert directory_problems(FLOWS, load_catalogue(Path(__file__).resolve().parents[2] / "config")) == []
