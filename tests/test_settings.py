from pathlib import Path

import pytest

from acd.settings import ConfigError, load_settings


def write(tmp_path, text):
    (tmp_path / "engine.yaml").write_text(text)
    return tmp_path


def test_defaults_without_a_file(tmp_path):
    s = load_settings(tmp_path, environ={})
    assert s.pbx.mode == "sim"
    assert s.database.url.startswith("sqlite+aiosqlite")
    assert s.live_state.backend == "memory"


def test_file_values_and_env_override(tmp_path):
    write(tmp_path, "pbx:\n  mode: asterisk\n  ami:\n    port: 5039\n")
    s = load_settings(tmp_path, environ={"ACD_PBX__AMI__HOST": "10.0.0.5", "ACD_HTTP__PORT": "9000"})
    assert s.pbx.mode == "asterisk"
    assert s.pbx.ami.port == 5039
    assert s.pbx.ami.host == "10.0.0.5"
    assert s.http.port == 9000


def test_unknown_key_names_file_line_and_key(tmp_path):
    write(tmp_path, "pbx:\n  mode: sim\n  amii:\n    port: 1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={})
    msg = str(err.value)
    assert "engine.yaml:3:3" in msg
    assert "pbx.amii" in msg and "unknown key" in msg


def test_all_problems_reported_together(tmp_path):
    write(tmp_path, "http:\n  port: eighty\nlive_state:\n  backend: memcached\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={})
    assert len(err.value.problems) == 2
    assert any("http.port" in p and "engine.yaml:2:3" in p for p in err.value.problems)
    assert any("live_state.backend" in p and "'memcached'" in p for p in err.value.problems)


def test_bad_env_override_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={"ACD_HTTP__PORT": "not-a-port"})
    assert "$ACD_HTTP__PORT" in str(err.value)


def test_yaml_syntax_error_is_located(tmp_path):
    write(tmp_path, "pbx:\n  mode: [sim\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={})
    assert "engine.yaml:" in str(err.value)


def test_agi_allow_peers_are_addresses_or_networks_named_where_written(tmp_path):
    write(tmp_path, "pbx:\n  agi:\n    allow_peers: [10.0.0.5, 10.1.0.0/16, '::1']\n")
    assert load_settings(tmp_path, environ={}).pbx.agi.allow_peers == ("10.0.0.5", "10.1.0.0/16", "::1")
    write(tmp_path, "pbx:\n  agi:\n    allow_peers:\n      - 10.0.0.5\n      - asterisk.example\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={})
    assert err.value.problems == [f"{tmp_path / 'engine.yaml'}:5:9: pbx.agi.allow_peers[1]: 'asterisk.example' is not an IP address or network"]


def test_time_zone_is_an_iana_name_checked_with_file_and_line(tmp_path):
    write(tmp_path, "engine:\n  node_id: n1\n  time_zone: Europe/Londn\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={})
    [problem] = err.value.problems
    assert "engine.yaml:3:3" in problem and "engine.time_zone" in problem and "'Europe/Londn'" in problem
    assert load_settings(tmp_path, environ={"ACD_ENGINE__TIME_ZONE": "Europe/London"}).engine.time_zone == "Europe/London"
    with pytest.raises(ConfigError, match=r"\$ACD_ENGINE__TIME_ZONE.*engine.time_zone"):
        load_settings(tmp_path, environ={"ACD_ENGINE__TIME_ZONE": "../../etc/passwd"})


def test_the_access_log_is_off_unless_switched_on(tmp_path):
    assert load_settings(tmp_path, environ={}).http.access_log is False
    assert load_settings(tmp_path, environ={"ACD_HTTP__ACCESS_LOG": "true"}).http.access_log is True
def test_out_of_range_values_name_file_line_and_key(tmp_path):
    (tmp_path / "engine.yaml").write_text(
        "verification:\n  max_failures: 0\n  window_s: -5\n"
        "retention:\n  run_every_h: -1\n"
        "http:\n  port: 70000\n"
        "demo:\n  agents: 0\n"
        "live_state:\n  snapshot_every: 0\n  wait_replicas: -1\n  wait_replicas_ms: 5000\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={"ACD_PBX__AMI__ACTION_TIMEOUT_S": "0"})
    f = tmp_path / "engine.yaml"
    assert err.value.problems == [
        "$ACD_PBX__AMI__ACTION_TIMEOUT_S:1:1: pbx.ami.action_timeout_s: must be greater than 0 (got 0.0)",
        f"{f}:2:3: verification.max_failures: must be at least 1 (got 0)",
        f"{f}:3:3: verification.window_s: must be greater than 0 (got -5.0)",
        f"{f}:5:3: retention.run_every_h: must be at least 0 (got -1.0)",
        f"{f}:11:3: live_state.snapshot_every: must be at least 1 (got 0)",
        f"{f}:12:3: live_state.wait_replicas: must be at least 0 (got -1)",
        f"{f}:13:3: live_state.wait_replicas_ms: must be at most 1000 (got 5000)",
        f"{f}:7:3: http.port: must be at most 65535 (got 70000)",
        f"{f}:9:3: demo.agents: must be at least 1 (got 0)",
    ]
    # the edges are allowed
    (tmp_path / "engine.yaml").write_text("verification:\n  max_failures: 1\nretention:\n  run_every_h: 0\n")
    assert load_settings(tmp_path, environ={}).verification.max_failures == 1


def test_every_setting_is_documented_in_the_shipped_engine_yaml():
    """config/engine.yaml is the reference: every key of acd/settings.py appears there."""
    import dataclasses
    import typing

    from acd.settings import Settings
    from acd.yamlsrc import load_yaml

    shipped = load_yaml(Path(__file__).resolve().parents[1] / "config" / "engine.yaml")

    def missing(cls, node, prefix):
        out = []
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name == "config_dir":
                continue
            if f.name not in node:
                out.append(prefix + f.name)
            elif dataclasses.is_dataclass(hints[f.name]):
                out += missing(hints[f.name], node[f.name], f"{prefix}{f.name}.")
        return out

    assert missing(Settings, shipped, "") == []
