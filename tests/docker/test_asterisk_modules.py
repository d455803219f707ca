"""docker/asterisk/ boots with an empty error log, with or without Asterisk's samples (issue #12.6):
every module that autoload would load has the configuration file it needs among the shipped files,
the rest are noloaded together with what depends on them, deprecated modules are not loaded, and
users.conf is neither shipped nor left behind by the samples."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docker.asterisk_conf import parse
from tests.docker.asterisk_modules import (
    CORE_CONFIG,
    DEPENDENTS,
    DEPRECATED,
    MODULE_CONFIG,
    MODULE_SECTION,
    REPORTED_NOISY,
)

AST = Path(__file__).resolve().parents[2] / "docker" / "asterisk"
SHIPPED = {p.name for p in AST.glob("*.conf")}


def noloaded() -> set[str]:
    modules = parse(AST / "modules.conf")
    assert [s.name for s in modules] == ["modules"]
    names = [n.removesuffix(".so") for n in modules[0].get_all("noload")]
    assert len(names) == len(set(names)), "a module is noloaded twice"
    return set(names)


def test_the_core_finds_every_file_it_reads_at_start() -> None:
    assert CORE_CONFIG <= SHIPPED, sorted(CORE_CONFIG - SHIPPED)


def test_every_module_that_loads_has_its_configuration_file() -> None:
    off = noloaded()
    missing = {m: f for m, f in MODULE_CONFIG.items() if m not in off and f not in SHIPPED}
    assert not missing, f"loaded without their config (ship the file or noload the module): {missing}"


def missing_sections(off: set[str], ast: Path = AST) -> dict[str, tuple[str, str]]:
    """Loaded modules whose file is shipped (or not) without the section they need."""
    missing = {}
    for module, (conf, section) in MODULE_SECTION.items():
        path = ast / conf
        if module not in off and not (path.exists() and any(s.name == section for s in parse(path))):
            missing[module] = (conf, section)
    return missing


def test_every_module_that_loads_finds_the_section_it_needs() -> None:
    missing = missing_sections(noloaded())
    assert not missing, f"these decline to load (add the section or noload the module): {missing}"


def test_the_section_rule_bites(tmp_path: Path) -> None:
    """cdr_csv left loaded beside a cdr.conf without [csv] (ours) is caught; with [csv] it is not."""
    (tmp_path / "cdr.conf").write_text("[general]\nenable = no\n")
    assert "cdr_csv" in missing_sections(set(), tmp_path)
    (tmp_path / "cdr.conf").write_text("[general]\nenable = no\n[csv]\nusegmtime = yes\n")
    assert "cdr_csv" not in missing_sections(set(), tmp_path)


def test_no_module_loads_whose_dependency_is_not_loaded() -> None:
    off = noloaded()
    broken = {d: sorted(DEPENDENTS[d] - off) for d in off & DEPENDENTS.keys() if DEPENDENTS[d] - off}
    assert not broken, f"these would fail with 'missing dependency': {broken}"


def test_deprecated_and_reported_modules_are_not_loaded() -> None:
    off = noloaded()
    assert DEPRECATED <= off and REPORTED_NOISY <= off, sorted((DEPRECATED | REPORTED_NOISY) - off)


def test_the_engine_still_gets_what_it_uses() -> None:
    off = noloaded()
    used = {"chan_pjsip", "res_pjsip", "res_agi", "pbx_config", "app_queue", "app_voicemail",
            "res_musiconhold", "app_mixmonitor", "res_rtp_asterisk", "res_pjproject"}
    assert not used & off
    # what they load needs is shipped, not merely noloaded away
    assert {MODULE_CONFIG[m] for m in used if m in MODULE_CONFIG} <= SHIPPED


def test_users_conf_is_neither_shipped_nor_kept_from_the_samples() -> None:
    assert "users.conf" not in SHIPPED
    dockerfile = (AST / "Dockerfile").read_text().replace("\\\n", " ")
    samples = dockerfile.index("make samples")
    copy = re.search(r"^COPY \*\.conf /etc/asterisk/", dockerfile, re.M)
    assert copy, "the Dockerfile must install every shipped *.conf"
    assert re.search(r"rm -f /etc/asterisk/users\.conf", dockerfile[copy.end():]), \
        "pbx_config warns 'users.conf is deprecated' while the sample exists"
    assert samples < copy.start()


def test_rules_fail_on_a_broken_modules_conf(tmp_path: Path) -> None:
    """The rules bite: a modules.conf without the noloads leaves declining modules loaded."""
    (tmp_path / "modules.conf").write_text("[modules]\nautoload = yes\nnoload = res_hep.so\n")
    off = {n.removesuffix(".so") for n in parse(tmp_path / "modules.conf")[0].get_all("noload")}
    assert {m for m, f in MODULE_CONFIG.items() if m not in off and f not in SHIPPED}
    assert DEPENDENTS["res_hep"] - off
