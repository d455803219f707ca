"""docker/: the compose file runs the whole stack, every file it references exists, the engine's
environment names real settings, and Prometheus/Grafana are wired to metrics/."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import typing
from pathlib import Path

import pytest
import yaml

from acd.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_all_services_are_there(compose: dict) -> None:
    assert set(compose["services"]) >= {"asterisk", "engine", "redis", "postgres", "prometheus", "grafana"}


def test_build_contexts_and_dockerfiles_exist(compose: dict) -> None:
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build is None:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", svc["image"]), f"{name}: pin an image tag"
            assert not svc["image"].endswith(":latest"), f"{name}: pin a version, not latest"
            continue
        context = (DOCKER / build["context"]).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"


def test_bind_mounts_exist_and_named_volumes_are_declared(compose: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            source, target = vol.split(":")[:2]
            assert target.startswith("/"), vol
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} not declared"


def test_dockerfile_copy_sources_exist() -> None:
    engine = (DOCKER / "Dockerfile").read_text()
    assert engine.startswith("#") and "FROM python:3.11-slim" in engine and "pip install ." in engine
    for m in re.finditer(r"^COPY (?!--from)(.+)$", engine, re.M):
        *sources, _dest = m.group(1).split()
        for src in sources:
            assert (ROOT / src).exists(), f"docker/Dockerfile copies {src}, which does not exist"
    asterisk = (DOCKER / "asterisk" / "Dockerfile").read_text().replace("\\\n", " ")
    for m in re.finditer(r"^COPY (?!--from)(.+)$", asterisk, re.M):
        *sources, _dest = m.group(1).split()
        for src in sources:
            assert list((DOCKER / "asterisk").glob(src)), src


def _settings_paths(cls: type, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}".upper()
        if dataclasses.is_dataclass(tp):
            paths |= _settings_paths(tp, key + "__")
        else:
            paths.add(key)
    return paths


def test_engine_environment_names_real_settings(compose: dict) -> None:
    known = {"ACD_" + p for p in _settings_paths(Settings)}
    env = compose["services"]["engine"]["environment"]
    assert env, "the engine needs its PBX, database and live-state settings"
    for key in env:
        assert key in known, f"{key} is not a setting (acd/settings.py)"
    assert env["ACD_PBX__MODE"] == "asterisk"
    assert env["ACD_PBX__AGI__PORT"] == "4573" and env["ACD_PBX__AMI__PORT"] == "5038"
    assert env["ACD_DATABASE__URL"].startswith("postgresql+asyncpg://")
    assert env["ACD_LIVE_STATE__BACKEND"] == "redis"


def test_engine_secret_matches_asterisk_manager_conf(compose: dict) -> None:
    env = compose["services"]["engine"]["environment"]
    manager = (DOCKER / "asterisk" / "manager.conf").read_text()
    section = manager.split(f"[{env['ACD_PBX__AMI__USERNAME']}]", 1)[1]
    assert re.search(rf"^secret = {re.escape(env['ACD_PBX__AMI__SECRET'])}$", section, re.M)


def test_prometheus_scrapes_the_engine_and_loads_the_alert_rules(compose: dict, tmp_path: Path) -> None:
    prom = compose["services"]["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prom["volumes"])
    config_src = next(s for s, t in mounts.items() if t == "/etc/prometheus/prometheus.yml")
    config = yaml.safe_load((DOCKER / config_src).read_text())
    rule_targets = set(config["rule_files"])
    mounted_rules = {t: s for s, t in mounts.items() if t in rule_targets}
    assert rule_targets and set(mounted_rules) == rule_targets
    assert all((DOCKER / s).resolve() == (ROOT / "metrics" / "alerts.yaml") for s in mounted_rules.values())
    engine_port = compose["services"]["engine"]["environment"]["ACD_HTTP__PORT"]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "acd")
    assert f"127.0.0.1:{engine_port}" in job["static_configs"][0]["targets"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    # the rules' `up{job="acd"}` refers to this job
    assert 'job="acd"' in (ROOT / "metrics" / "alerts.yaml").read_text()
    # promtool validates the config with the rules at the path it will have in the container
    config["rule_files"] = [str(ROOT / "metrics" / "alerts.yaml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install -y prometheus"
    out = subprocess.run([promtool, "check", "config", str(local)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(compose: dict) -> None:
    graf = compose["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in graf["volumes"])
    prov_src = next(s for s, t in mounts.items() if t == "/etc/grafana/provisioning")
    prov = DOCKER / prov_src
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yaml").read_text())["datasources"][0]
    assert ds["type"] == "prometheus" and ds["url"].endswith(":9090")
    providers = yaml.safe_load((prov / "dashboards" / "acd.yaml").read_text())["providers"]
    path = providers[0]["options"]["path"]
    dash_mount = next(t for s, t in mounts.items() if s.endswith("metrics/grafana-dashboard.json"))
    assert dash_mount.startswith(path + "/")


def _mounts(svc: dict) -> dict[str, tuple[str, str]]:
    """target -> (source, mode)"""
    out = {}
    for vol in svc.get("volumes", []):
        parts = vol.split(":")
        out[parts[1]] = (parts[0], parts[2] if len(parts) > 2 else "rw")
    return out


def test_recordings_are_shared_read_write_where_retention_deletes_them(compose: dict) -> None:
    env = compose["services"]["engine"]["environment"]
    folder = env["ACD_RECORDING__DIR"]
    engine, asterisk = _mounts(compose["services"]["engine"]), _mounts(compose["services"]["asterisk"])
    assert engine[folder][1] == "rw" and asterisk[folder][1] == "rw"
    assert engine[folder][0] == asterisk[folder][0] and engine[folder][0] in compose["volumes"]
    # the same group owns the folder in both images (the engine can delete what Asterisk wrote)
    gids = {re.search(r"groupadd --system --gid (\d+) recordings", (d / "Dockerfile").read_text()).group(1)
            for d in (DOCKER, DOCKER / "asterisk")}
    assert len(gids) == 1
    assert "chmod 2775 /var/spool/asterisk/monitor" in (DOCKER / "asterisk" / "Dockerfile").read_text()


def test_config_and_flows_are_mounted_for_hot_reload_and_the_spool_is_on_a_volume(compose: dict) -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    workdir = re.search(r"^WORKDIR (\S+)", dockerfile, re.M).group(1)
    assert 'CMD ["acd", "serve", "--config", "config"]' in dockerfile
    mounts = _mounts(compose["services"]["engine"])
    assert (DOCKER / mounts[f"{workdir}/config"][0]).resolve() == ROOT / "config"
    assert (DOCKER / mounts[f"{workdir}/ivr_flows"][0]).resolve() == ROOT / "ivr_flows"
    spool = compose["services"]["engine"]["environment"]["ACD_DATABASE__SPOOL_DIR"]
    assert mounts[spool][0] in compose["volumes"] and mounts[spool][1] == "rw"


def test_no_demo_token_in_compose_and_the_engine_refuses_them_against_a_real_pbx(compose: dict) -> None:
    from acd.http.users import demo_tokens_refusal, load_users

    text = (DOCKER / "compose.yaml").read_text()
    env = compose["services"]["engine"]["environment"]
    assert "demo-" not in text and not [k for k in env if "TOKEN" in k]
    assert compose["services"]["engine"]["environment"]["ACD_PBX__MODE"] == "asterisk"
    # the shipped users still have the demo tokens: this stack refuses to start until they are replaced
    demo = load_users(ROOT / "config" / "users.yaml").with_demo_tokens()
    assert demo and "acd users token" in demo_tokens_refusal("asterisk", demo, None)
    assert demo_tokens_refusal("sim", demo, None) is None and demo_tokens_refusal("asterisk", [], None) is None


def test_docker_readme_walks_an_admin_through_it() -> None:
    readme = (DOCKER / "README.md").read_text()
    for step in ("acd users token", "manager.conf", "pjsip.conf", "docker compose", "recordings", "ivr_flows",
                 "config/", "spool", "retention", "SIGHUP", "ACD_PBX__AMI__SECRET", "docker compose logs"):
        assert step in readme, step


def test_the_image_health_check_is_the_liveness_route_and_the_readme_names_both() -> None:
    """Docker's HEALTHCHECK asks /healthz (the process answers), not /metrics, which renders
    every metric every 30 s; the README says what /healthz and /readyz are for."""
    dockerfile = (DOCKER / "Dockerfile").read_text()
    check = re.search(r"^HEALTHCHECK .*$", dockerfile, re.M).group(0)
    assert "http://127.0.0.1:8080/healthz" in check and "/metrics" not in check
    readme = (DOCKER / "README.md").read_text()
    assert "/healthz" in readme and "/readyz" in readme
