"""The ``acd`` command: help everywhere, the demo shows calls flowing, bad settings refused."""

import os
import subprocess
import sys

import pytest

from acd.cli import build_parser

ACD = [sys.executable, "-m", "acd"]


def subcommands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from subcommands(sub, prefix + (name,))


@pytest.mark.parametrize("words", [()] + list(subcommands(build_parser())), ids=lambda w: " ".join(w) or "acd")
def test_help_everywhere(words):
    out = subprocess.run(ACD + list(words) + ["--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_demo_shows_calls_flowing(tmp_path):
    env = {**os.environ, "ACD_HTTP__PORT": "0", "ACD_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/demo.sqlite3",
           "ACD_DATABASE__SPOOL_DIR": str(tmp_path / "spool")}
    # the demo line greets, identifies, asks known callers for their PIN and offers a menu: give
    # the first callers time to get through the IVR to an agent
    out = subprocess.run(ACD + ["demo", "--duration", "25", "--calls-per-minute", "60"], capture_output=True, text=True, timeout=120, env=env, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stderr
    assert "wallboard on http://" in log
    assert "agi.session.start" in log and "call.queue_enter" in log
    assert "call.connected" in log  # a simulated caller reached a simulated agent


def test_serve_refuses_bad_settings_with_file_line_and_key(tmp_path):
    (tmp_path / "engine.yaml").write_text("pbx:\n  mode: asterix\n")
    out = subprocess.run(ACD + ["serve", "--config", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "engine.yaml:2:3" in out.stderr and "pbx.mode" in out.stderr


def test_serve_fails_loudly_when_asterisk_is_unreachable(tmp_path):
    for name in ("queues.yaml", "agents.yaml"):
        (tmp_path / name).write_text(open(os.path.join(os.path.dirname(__file__), "..", "config", name)).read())
    (tmp_path / "engine.yaml").write_text("pbx:\n  mode: asterisk\n  ami: {host: 127.0.0.1, port: 1}\n  agi: {port: 0}\nhttp: {port: 0}\n"
                                          f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/db.sqlite3', spool_dir: '{tmp_path}/spool'}}\n")
    out = subprocess.run(ACD + ["serve", "--config", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "cannot reach AMI at 127.0.0.1:1" in out.stderr


def test_sighup_reloads_flows_and_config(tmp_path):
    import shutil
    import signal
    import time

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in ("queues.yaml", "agents.yaml", "desk.yaml"):
        shutil.copy(os.path.join(root, "config", name), tmp_path / name)
    flows = tmp_path / "flows"
    shutil.copytree(os.path.join(root, "ivr_flows"), flows)
    (tmp_path / "engine.yaml").write_text(
        f"http: {{port: 0}}\npbx: {{agi: {{port: 0}}}}\nflows: {{directory: '{flows}'}}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/db.sqlite3', spool_dir: '{tmp_path}/spool'}}\n")
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(ACD + ["serve", "--config", str(tmp_path), "--duration", "40"], stderr=log_file, stdout=subprocess.DEVNULL)
        try:
            for _ in range(300):
                if "engine.started" in log_path.read_text():
                    break
                time.sleep(0.1)
            (tmp_path / "desk.yaml").write_text((tmp_path / "desk.yaml").read_text().replace("label: Lunch", "label: Lunch break"))
            demo = flows / "demo_line.yaml"
            demo.write_text(demo.read_text().replace("description: Demo line", "description: Demo line (edited)"))
            proc.send_signal(signal.SIGHUP)
            for _ in range(100):
                if "config.reloaded" in log_path.read_text():
                    break
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    log = log_path.read_text()
    after = log.split("engine.sighup", 1)[1]
    assert "config.reloaded" in after
    assert "flows.loaded flow=demo_line" in log  # by the SIGHUP (or the file watcher, if it looked first)
    assert proc.returncode == 0
