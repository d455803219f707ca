"""docker/asterisk/: the Asterisk 22 configuration parses with Asterisk's syntax, defines every
context the engine and the simulator use, follows the agreed dialplan (priorities included), and
agrees with the engine's defaults (AMI user and port, FastAGI port, agent endpoints).

No real Asterisk runs here (Debian 12 has no asterisk package); these are structural checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from acd.settings import AgiSection, AmiSection
from tests.docker.asterisk_conf import (
    ParseError,
    Section,
    balanced,
    by_name,
    dialplan,
    parse,
    pattern_matches,
    resolved,
)

ROOT = Path(__file__).resolve().parents[2]
AST = ROOT / "docker" / "asterisk"
CONF_FILES = sorted(p.name for p in AST.glob("*.conf"))
# Files Asterisk requires to exist but that configure nothing here (comments only).
COMMENT_ONLY = {"geolocation.conf", "pjsip_wizard.conf", "websocket_client.conf"}
# Sections that may be empty: defaults kept ([general] of features.conf), mailboxes added by you.
MAY_BE_EMPTY = {"general", "default"}

# Dialplan applications of Asterisk 22 used by these files (a typo would load but fail at runtime).
KNOWN_APPS = {"AGI", "Answer", "Bridge", "Dial", "Goto", "GotoIf", "Hangup", "NoOp", "Playback", "Queue",
              "Return", "Set", "UserEvent", "VoiceMail", "MusicOnHold", "Wait", "Gosub"}
ENGINE_CONTEXTS = {"acd-inbound", "acd-connect", "acd-fallback", "acd-hangup", "acd-survey"}
BRIDGE_OPTS = '${IF($["${ACD_BRIDGE_OPTS}" = ""]?x:${ACD_BRIDGE_OPTS})}'  # x unless the engine asks for a survey


@pytest.fixture(scope="module")
def ext() -> list[Section]:
    return parse(AST / "extensions.conf")


@pytest.fixture(scope="module")
def steps(ext: list[Section]):
    return dialplan(ext)


def globals_of(ext: list[Section]) -> dict[str, str]:
    return {i.key: i.value for s in ext if s.name == "globals" for i in s.items}


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: variables.get(m.group(1), m.group(0)), text)


# ------------------------------------------------------------------------ the reader itself
def test_reader_rejects_what_asterisk_would_reject(tmp_path: Path) -> None:
    bad = tmp_path / "x.conf"
    bad.write_text("[ctx]\nexten => s,1,NoOp(a)\n same => 3,Hangup()\n")
    with pytest.raises(ParseError, match="does not follow"):
        dialplan(parse(bad))
    bad.write_text("[ctx]\nexten => s,n,NoOp(a)\n")
    with pytest.raises(ParseError, match="starts with n"):
        dialplan(parse(bad))
    bad.write_text("[ctx]\nexten => s,1,Bridge(${ACD_CALLER,x)\n")
    with pytest.raises(ParseError, match="bad application"):
        dialplan(parse(bad))
    bad.write_text("no section = here\n")
    with pytest.raises(ParseError, match="before any"):
        parse(bad)
    bad.write_text("[a](missing)\nx = 1\n")
    with pytest.raises(ParseError, match="template"):
        resolved(parse(bad)[0], parse(bad))
    assert pattern_matches("_X.", "5551234") and not pattern_matches("_X.", "5")
    assert pattern_matches("_8XXX", "8001") and not pattern_matches("_8XXX", "80012")
    assert balanced("$[\"${A}\" != \"ok\"]") and not balanced("${A")


@pytest.mark.parametrize("name", CONF_FILES)
def test_every_file_parses(name: str) -> None:
    sections = parse(AST / name)
    assert bool(sections) != (name in COMMENT_ONLY), name
    for s in sections:
        assert s.items or s.templates or s.name in MAY_BE_EMPTY, f"{name}: [{s.name}] is empty"


# ------------------------------------------------------------------------ extensions.conf
def test_the_contexts_the_engine_and_simulator_use_exist(ext: list[Section]) -> None:
    names = {s.name for s in ext}
    assert ENGINE_CONTEXTS <= names
    # every "acd-..." context named in the engine's code exists
    used: set[str] = set()
    for path in (ROOT / "acd").rglob("*.py"):
        used.update(re.findall(r'"(acd-(?:inbound|connect|fallback|hangup|transfer|voicemail|agents))"', path.read_text()))
    assert used, "the engine names no dialplan context?"
    assert used <= names, used - names


def test_acd_inbound_is_the_agreed_dialplan(steps) -> None:
    inbound = [(s.priority, s.app, s.args) for s in steps if s.context == "acd-inbound" and s.exten == "_X."]
    assert inbound == [
        (1, "Set", "CHANNEL(hangup_handler_push)=acd-hangup,s,1"),
        (2, "AGI", "agi://${ACD_AGI_HOST}:4573/ivr"),  # no Answer(): the engine answers
        (3, "Goto", "acd-fallback,s,1"),
    ]
    # `h` is informational only (it runs for the Surrogate at connect time): no cleanup there
    h = [s for s in steps if s.context == "acd-inbound" and s.exten == "h"]
    assert h and all(s.app == "NoOp" for s in h)


def test_acd_connect_claims_then_bridges_with_option_x_to_the_caller_uniqueid(steps) -> None:
    connect = [(s.priority, s.label, s.app, s.args) for s in steps if s.context == "acd-connect" and s.exten == "s"]
    assert connect == [
        (1, None, "AGI", "agi://${ACD_AGI_HOST}:4573/claim"),
        (2, None, "GotoIf", '$["${ACD_CLAIM}" != "ok"]?lost'),
        (3, None, "Bridge", "${ACD_CALLER}," + BRIDGE_OPTS),
        (4, None, "Hangup", ""),
        (5, "lost", "Hangup", ""),
    ]


def test_every_bridge_uses_option_x_or_continues_to_the_survey(steps) -> None:
    from acd.service.legs import SURVEY_BRIDGE_OPTS

    bridges = [s for s in steps if s.app == "Bridge"]
    assert bridges
    for s in bridges:
        target, _, options = s.args.partition(",")
        assert target == "${ACD_CALLER}", s
        # unset: x (without it the caller would fall back into its dialplan); the engine's survey
        # option names a place that exists
        assert options == BRIDGE_OPTS, f"line {s.line}: Bridge without x: the caller would fall back into its dialplan"
    context, exten, priority = SURVEY_BRIDGE_OPTS[2:-1].split("^")
    assert [(x.app, x.args) for x in steps if (x.context, x.exten) == (context, exten)] == [
        ("AGI", "agi://${ACD_AGI_HOST}:4573/survey"), ("Hangup", "")]
    assert priority == "1"


def test_agi_urls_point_at_the_engine_on_port_4573(ext: list[Section], steps) -> None:
    g = globals_of(ext)
    agis = [s for s in steps if s.app == "AGI"]
    assert {s.args.rsplit("/", 1)[1] for s in agis} == {"ivr", "claim", "resume", "survey"}  # the scripts acd.app serves
    for s in agis:
        url = expand(s.args, g)
        m = re.fullmatch(r"agi://([A-Za-z0-9.-]+):(\d+)/([a-z]+)", url)
        assert m, f"line {s.line}: {url!r} is not agi://host:port/script with a defined host"
        assert int(m.group(2)) == 4573 == AgiSection().port
    assert "ACD_AGI_HOST" in g


def test_hangup_handler_context_reports_and_returns(steps) -> None:
    hh = [s for s in steps if s.context == "acd-hangup" and s.exten == "s"]
    assert hh[0].priority == 1 and hh[0].app == "UserEvent" and hh[0].args.startswith("AcdHangup,")
    assert "Uniqueid: ${UNIQUEID}" in hh[0].args
    assert hh[-1].app == "Return", "a hangup handler must end with Return()"


def test_gotos_land_on_existing_contexts_extensions_and_labels(ext: list[Section], steps) -> None:
    contexts = {s.context for s in steps}
    labels = {(s.context, s.exten, s.label) for s in steps if s.label}
    for s in steps:
        if s.app == "GotoIf":
            cond, _, dest = s.args.partition("?")
            assert balanced(cond) and dest, s
            for target in dest.split(":"):
                if "," not in target:
                    assert (s.context, s.exten, target) in labels, f"line {s.line}: no label {target}"
        if s.app == "Goto":
            parts = s.args.split(",")
            assert len(parts) == 3, f"line {s.line}: use Goto(context,exten,priority)"
            ctx, exten, prio = parts
            assert ctx in contexts, f"line {s.line}: context {ctx} does not exist"
            sample = "5551234" if "${EXTEN" in exten else exten
            assert any(t.context == ctx and pattern_matches(t.exten, sample) and t.priority == int(prio)
                       for t in steps), f"line {s.line}: {s.args} goes nowhere"


def test_hangup_handler_push_targets_an_existing_handler(steps) -> None:
    for s in steps:
        m = re.match(r"CHANNEL\(hangup_handler_push\)=([^,]+),([^,]+),(\d+)", s.args)
        if s.app == "Set" and m:
            assert any(t.context == m.group(1) and t.exten == m.group(2) and t.priority == int(m.group(3)) for t in steps)


def test_only_real_applications_and_balanced_expressions(steps) -> None:
    for s in steps:
        assert s.app in KNOWN_APPS, f"line {s.line}: unknown application {s.app}"
        assert balanced(s.args), f"line {s.line}: unbalanced {s.args!r}"


def test_every_extension_starts_at_priority_one_and_contexts_are_not_repeated(ext: list[Section], steps) -> None:
    names = [s.name for s in ext]
    assert len(names) == len(set(names)), "a context defined twice merges silently in Asterisk: keep one"
    firsts: dict[tuple[str, str], int] = {}
    for s in steps:
        firsts.setdefault((s.context, s.exten), s.priority)
    assert set(firsts.values()) == {1}


def test_example_trunk_entry_reaches_the_engine(ext: list[Section], steps) -> None:
    entry = [s for s in steps if s.context == "from-trunk"]
    assert entry and all(s.app == "Goto" and s.args.startswith("acd-inbound,") for s in entry)


def test_fallback_queue_exists_in_queues_conf(ext: list[Section]) -> None:
    queue = globals_of(ext)["ACD_FALLBACK_QUEUE"]
    assert queue in {s.name for s in parse(AST / "queues.conf")}
    members = by_name(parse(AST / "queues.conf"))[queue][0].get_all("member")
    assert members and all(m.startswith("PJSIP/agent") for m in members)


# ------------------------------------------------------------------------ manager.conf
def test_manager_gives_the_engine_user_exactly_the_classes_it_needs() -> None:
    sections = by_name(parse(AST / "manager.conf"))
    general = sections["general"][0]
    assert general.get("enabled") == "yes"
    assert int(general.get("port") or 0) == AmiSection().port == 5038
    user = sections[AmiSection().username][0]
    assert user.get("secret")
    read = {c.strip() for c in (user.get("read") or "").split(",")}
    write = {c.strip() for c in (user.get("write") or "").split(",")}
    # read: call (Newchannel, Hangup, BridgeEnter, OriginateResponse...), user (AcdHangup), system (FullyBooted)
    assert {"call", "user", "system"} <= read
    # write: originate (Originate), call (Hangup, Redirect, Setvar, Getvar, Status, DeviceStateList,
    # MixMonitorMute, StopMixMonitor), system (MixMonitor, CoreStatus, CoreShowChannels), user (UserEvent)
    assert {"originate", "call", "system", "user"} <= write
    for too_much in ("all", "command", "config"):
        assert too_much not in read | write, too_much
    assert user.get_all("deny") and user.get_all("permit"), "restrict the AMI user by address"


# The AMI event class of every event the engine subscribes to (managerEventInstance class in the
# Asterisk 22.10.1 source: main/manager_channels.c, manager_bridges.c, devicestate.c, stasis.c,
# manager_doc.xml, apps/app_queue.c). Asterisk sends an event only to users that read its class.
EVENT_CLASS = {
    "BridgeEnter": "call", "OriginateResponse": "call", "Hangup": "call", "HangupRequest": "call",
    "SoftHangupRequest": "call", "Newchannel": "call", "DeviceStateChange": "call", "Hold": "call",
    "Unhold": "call", "UserEvent": "user", "QueueCallerJoin": "agent", "FullyBooted": "system",
}
_SUBSCRIBED = re.compile(r'(?:subscribe\(|\()"([A-Z][A-Za-z]+)",\s*self\._on_')


def subscribed_events(root: Path) -> set[str]:
    """AMI events the engine's code subscribes to (outside the simulator)."""
    names: set[str] = set()
    for path in root.rglob("*.py"):
        if "sim" not in path.relative_to(root).parts:
            names |= set(_SUBSCRIBED.findall(path.read_text()))
    return names


def test_the_engine_user_reads_the_class_of_every_event_the_engine_subscribes_to() -> None:
    """QueueCallerJoin is class agent: with read = system,call,user a real Asterisk never sent it
    and the reconciler could not note the fallback (issue #12, seen on 22.10.1)."""
    user = by_name(parse(AST / "manager.conf"))[AmiSection().username][0]
    read = {c.strip() for c in (user.get("read") or "").split(",")}
    events = subscribed_events(ROOT / "acd")
    assert {"QueueCallerJoin", "UserEvent", "Hangup", "BridgeEnter"} <= events, events
    unknown = events - EVENT_CLASS.keys()
    assert not unknown, f"add their AMI class (from the Asterisk source) to EVENT_CLASS: {sorted(unknown)}"
    unread = {e: EVENT_CLASS[e] for e in events if EVENT_CLASS[e] not in read}
    assert not unread, f"Asterisk would not send these to the engine: {unread}"


# ------------------------------------------------------------------------ pjsip.conf
def test_pjsip_objects_have_a_type_and_agents_match_the_engine_config() -> None:
    sections = parse(AST / "pjsip.conf")
    objects: dict[tuple[str, str], dict[str, str]] = {}
    for s in sections:
        if s.is_template:
            continue
        values = resolved(s, sections)
        assert values.get("type") in {"transport", "endpoint", "aor", "auth", "identify", "registration"}, s.name
        objects[(values["type"], s.name)] = values
    contexts = {s.name for s in parse(AST / "extensions.conf")}
    for (kind, name), values in objects.items():
        if kind == "endpoint":
            assert values.get("context") in contexts, f"endpoint {name}: context {values.get('context')} missing"
            for aor in values.get("aors", "").split(","):
                assert ("aor", aor.strip()) in objects, f"endpoint {name}: aor {aor} missing"
            for key in ("auth", "outbound_auth"):
                if key in values:
                    assert ("auth", values[key]) in objects
                    assert objects[("auth", values[key])].get("password")
    assert any(k == "transport" for k, _ in objects)
    agents = yaml.safe_load((ROOT / "config" / "agents.yaml").read_text())["agents"]
    for agent in agents:
        tech, _, name = agent["endpoint"].partition("/")
        assert tech == "PJSIP" and ("endpoint", name) in objects, f"{agent['endpoint']} not in pjsip.conf"
        assert objects[("endpoint", name)]["context"] == "acd-agents"
    users = yaml.safe_load((ROOT / "config" / "users.yaml").read_text())["users"]
    phones = [u["endpoint"] for u in users if u.get("endpoint")]
    assert phones  # the supervisors' phones ChanSpy rings (listen / whisper / barge)
    for endpoint in phones:
        tech, _, name = endpoint.partition("/")
        assert tech == "PJSIP" and ("endpoint", name) in objects, f"{endpoint} (config/users.yaml) not in pjsip.conf"


# ------------------------------------------------------------------------ the other files
def test_modules_autoload_without_unloading_what_the_engine_needs() -> None:
    modules = parse(AST / "modules.conf")[0]
    assert modules.name == "modules" and modules.get("autoload") == "yes"
    noload = modules.get_all("noload")
    assert noload and all(n.endswith(".so") for n in noload)
    needed = {"chan_pjsip.so", "res_agi.so", "pbx_config.so", "res_musiconhold.so", "app_mixmonitor.so",
              "app_queue.so", "app_dial.so", "app_playback.so", "app_userevent.so", "app_stack.so",
              "func_channel.so", "app_voicemail.so", "chan_local.so", "res_pjsip.so", "app_chanspy.so"}
    assert not needed & set(noload)


def test_music_on_hold_default_class_is_defined() -> None:
    moh = by_name(parse(AST / "musiconhold.conf"))
    assert moh["default"][0].get("mode") == "files" and moh["default"][0].get("directory")


def test_logger_and_asterisk_conf() -> None:
    logfiles = by_name(parse(AST / "logger.conf"))["logfiles"][0]
    assert "warning" in (logfiles.get("console") or "") and "warning" in (logfiles.get("messages.log") or "")
    options = by_name(parse(AST / "asterisk.conf"))["options"][0]
    assert options.get("runuser") == "asterisk"


def test_dockerfile_installs_every_config_file_of_the_folder() -> None:
    dockerfile = (AST / "Dockerfile").read_text()
    copied = set()
    for m in re.finditer(r"^COPY (?!--from)(.+?) /etc/asterisk/\s*$", dockerfile.replace("\\\n", " "), re.M):
        copied.update(m.group(1).split())
    assert copied == {"*.conf"}, "every *.conf of the folder replaces its sample"
    assert "ASTERISK_VERSION=22." in dockerfile
    assert "does NOT ship Asterisk binaries" in dockerfile


def test_readme_explains_each_file_and_the_meeting_points() -> None:
    readme = (AST / "README.md").read_text()
    for name in CONF_FILES + ["Dockerfile"]:
        assert f"`{name}`" in readme, name
    for fact in ("4573", "5038", "does not ship Asterisk binaries", "not in Debian 12"):
        assert fact in readme, fact
