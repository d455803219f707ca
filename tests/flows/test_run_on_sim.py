"""``acd flows run --pbx``: the call goes through the real engine, the simulated PBX and the
configured store, and the transcript says what happened."""

from __future__ import annotations

import shutil
from pathlib import Path

from acd.cli import main

ROOT = Path(__file__).resolve().parents[2]


def config_dir(tmp_path: Path) -> Path:
    conf = tmp_path / "config"
    conf.mkdir()
    for name in ("queues.yaml", "agents.yaml", "desk.yaml"):
        shutil.copy(ROOT / "config" / name, conf / name)
    (conf / "engine.yaml").write_text(
        f"database: {{url: 'sqlite+aiosqlite:///{tmp_path}/acd.sqlite3', spool_dir: '{tmp_path}/spool'}}\n"
        f"flows: {{directory: '{ROOT / 'ivr_flows'}'}}\nengine: {{log_level: WARNING}}\n")
    return conf


def test_run_on_the_simulated_pbx(tmp_path, capsys):
    code = main(["flows", "run", "demo_line", "--pbx", "--config", str(config_dir(tmp_path)),
                 "--caller", "+447700900999", "--keys", "3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "flow demo_line" in out and "simulated PBX" in out
    assert "= identify [lookup_caller] -> not_found" in out
    assert "= menu [menu] -> 3" in out
    assert "queued in sales" in out and "connected to agent" in out
    assert "heard: welcome, acme/main-menu" in out
    assert "result: answered by PJSIP/agent" in out
    assert (tmp_path / "acd.sqlite3").exists()  # the configured store got the record


def test_run_on_the_simulated_pbx_unknown_flow(tmp_path, capsys):
    code = main(["flows", "run", "nosuch", "--pbx", "--config", str(config_dir(tmp_path))])
    assert code == 1 and "no flow 'nosuch'" in capsys.readouterr().out
