"""Engine settings: ``config/engine.yaml`` plus ``ACD_...`` environment overrides.

Every key is declared by the dataclasses below; the loader walks them with the YAML's source
positions, so a wrong, missing or mistyped key is refused with file, line and key named, and all
such errors are reported together. The engine never starts half-configured.

Environment overrides use the key path in upper case joined by ``__``:
``ACD_DATABASE__URL=postgresql+asyncpg://...``, ``ACD_PBX__MODE=asterisk``,
``ACD_LIVE_STATE__BACKEND=redis``. Values are parsed as YAML scalars (``true``, ``5038``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from collections.abc import Mapping

import yaml

from acd.yamlsrc import Location, SrcDict, YamlError, load_yaml, where

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

D = TypeVar("D", bound="DataclassInstance")  # a settings section: a dataclass


class ConfigError(ValueError):
    """One or more problems in the settings; ``problems`` lists each as ``file:line:col: key: why``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class EngineSection:
    node_id: str = "node-1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    time_zone: str = "UTC"  # IANA name (Europe/London): where "today" starts for the wallboard and the day figures


@dataclass(frozen=True)
class AmiSection:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "acd"
    secret: str = "change-me"
    action_timeout_s: float = 10.0
    ping_interval_s: float = 10.0


@dataclass(frozen=True)
class AgiSection:
    host: str = "127.0.0.1"
    port: int = 4573
    max_sessions: int = 2000
    env_timeout_s: float = 5.0
    command_timeout_s: float = 30.0
    # when not empty, only these addresses or networks (10.0.0.5, 10.0.0.0/24) may open a session
    allow_peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PbxSection:
    mode: Literal["sim", "asterisk"] = "sim"
    ami: AmiSection = field(default_factory=AmiSection)
    agi: AgiSection = field(default_factory=AgiSection)


@dataclass(frozen=True)
class DatabaseSection:
    url: str = "sqlite+aiosqlite:///var/acd.sqlite3"
    spool_dir: str = "var/spool"
    phone_region: str = "GB"  # how national numbers are read before E.164 normalisation


@dataclass(frozen=True)
class RetentionSection:
    interaction_days: int = 730  # interaction details older than this are anonymised or purged
    recording_days: int = 90  # recording files older than this are deleted
    mode: Literal["anonymise", "purge"] = "anonymise"
    run_every_h: float = 24.0  # the engine runs it on this schedule (0: only `acd retention run`)


@dataclass(frozen=True)
class RecordingSection:
    # Where Asterisk's MixMonitor writes call recordings (a path on the Asterisk host); retention
    # deletes files there, so the engine needs it read-write when they share a volume.
    dir: str = "/var/spool/asterisk/monitor"
    enabled: bool = True  # off: no call is recorded, whatever a queue's `record` says


@dataclass(frozen=True)
class VerificationSection:
    max_failures: int = 3  # failed attempts (per customer, and per caller number) before the lock
    window_s: float = 3600.0  # ... counted within this window, across calls


@dataclass(frozen=True)
class CustomersSection:
    languages: tuple[str, ...] = ("en", "fr", "de", "es", "it", "nl", "pl", "cy")  # a customer's language is one of these
    stale_days: int = 730  # the data-quality report calls a record stale after this long without a change or contact
    # scrypt hash of the bearer token of POST /api/v1/webhooks/contacts, from `acd customers webhook-token`
    # (never the token itself; empty: the webhook is off)
    webhook_token_hash: str = ""
    fcr_days: int = 7  # FCR: a contact is resolved first time when the customer does not come back on it within this many days
    csat_satisfied_min: int = 4  # CSAT: a survey answer (1-5) at least this counts as satisfied


@dataclass(frozen=True)
class LiveStateSection:
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "acd"
    snapshot_every: int = 1000  # a snapshot of the ACD core every this many log entries
    lease_ttl_s: float = 2.0  # the leader lease (redis): a follower takes over within about this long
    # redis: an appended input is handled only once this many replicas hold it (Redis WAIT), so a
    # Sentinel failover cannot lose what was acted on; 0: do not wait (replication is asynchronous)
    wait_replicas: int = 0
    wait_replicas_ms: int = 100  # one WAIT's time limit; the leader keeps waiting (routing paused) past it


@dataclass(frozen=True)
class HttpSection:
    host: str = "127.0.0.1"
    port: int = 8080
    access_log: bool = False  # one log event per HTTP request (method, path, status, time; never the query string)
    ready_spool_max_bytes: int = 5_000_000  # /readyz answers 503 while more call records than this wait in the spool


@dataclass(frozen=True)
class FlowsSection:
    directory: str = "ivr_flows"
    sound_dirs: tuple[str, ...] = ()
    default_flow: str = "main"
    fallback_queue: str = "general"


@dataclass(frozen=True)
class DemoSection:
    calls_per_minute: float = 9.0
    agents: int = 6
    seed: int | None = None


@dataclass(frozen=True)
class Settings:
    engine: EngineSection = field(default_factory=EngineSection)
    pbx: PbxSection = field(default_factory=PbxSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    verification: VerificationSection = field(default_factory=VerificationSection)
    retention: RetentionSection = field(default_factory=RetentionSection)
    recording: RecordingSection = field(default_factory=RecordingSection)
    customers: CustomersSection = field(default_factory=CustomersSection)
    live_state: LiveStateSection = field(default_factory=LiveStateSection)
    http: HttpSection = field(default_factory=HttpSection)
    flows: FlowsSection = field(default_factory=FlowsSection)
    demo: DemoSection = field(default_factory=DemoSection)
    config_dir: str = "config"


ENV_PREFIX = "ACD_"


@dataclass(frozen=True)
class Bound:
    """The range a number setting must lie in: ``low`` (inclusive, or exclusive when
    ``above``) up to ``high`` (inclusive). ``None`` leaves that side open."""

    low: float | None = None
    high: float | None = None
    above: bool = False

    def problem(self, value: float) -> str | None:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return f"must be {'greater than' if self.above else 'at least'} {_num(self.low)}"
        if self.high is not None and value > self.high:
            return f"must be at most {_num(self.high)}"
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


POSITIVE = Bound(0, above=True)
NOT_NEGATIVE = Bound(0)
AT_LEAST_ONE = Bound(1)
PORT = Bound(0, 65535)

# dataclass -> field -> the range its value must lie in (checked by ``build_section`` and
# ``load_settings`` with the file, line and key of the value).
BOUNDS: dict[type, dict[str, Bound]] = {
    AmiSection: {"port": PORT, "action_timeout_s": POSITIVE, "ping_interval_s": POSITIVE},
    AgiSection: {"port": PORT, "max_sessions": AT_LEAST_ONE, "env_timeout_s": POSITIVE, "command_timeout_s": POSITIVE},
    VerificationSection: {"max_failures": AT_LEAST_ONE, "window_s": POSITIVE},
    RetentionSection: {"interaction_days": AT_LEAST_ONE, "recording_days": AT_LEAST_ONE, "run_every_h": NOT_NEGATIVE},
    CustomersSection: {"stale_days": AT_LEAST_ONE},
    HttpSection: {"port": PORT},
    # a WAIT longer than the Redis client's 2 s socket timeout would read as Redis being down
    LiveStateSection: {"snapshot_every": AT_LEAST_ONE, "lease_ttl_s": POSITIVE, "wait_replicas": NOT_NEGATIVE,
                       "wait_replicas_ms": Bound(1, 1000)},
    DemoSection: {"calls_per_minute": POSITIVE, "agents": AT_LEAST_ONE},
}


def register_bounds(cls: type, **bounds: Bound) -> None:
    """Declare the ranges of ``cls``'s number fields (a module outside settings, e.g. the
    routing configuration, registers its own)."""
    BOUNDS.setdefault(cls, {}).update(bounds)


def _check_bound(cls: type, name: str, value: Any, key: str, loc: Location, problems: list[str]) -> None:
    bound = BOUNDS.get(cls, {}).get(name)
    if bound is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    why = bound.problem(value)
    if why:
        problems.append(f"{loc}: {key}: {why} (got {value!r})")


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, key: str, loc: Location, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, key, loc, problems)
    if origin is Literal:
        if value not in args:
            problems.append(f"{loc}: {key}: {value!r} is not {_type_name(tp)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(f"{loc}: {key}: expected a list, got {type(value).__name__}")
            return ()
        return tuple(_convert(args[0], v, f"{key}[{i}]", where(value, i, loc.file), problems) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{loc}: {key}: expected a mapping, got {type(value).__name__}")
            return {}
        return {k: _convert(args[1], v, f"{key}.{k}", where(value, k, loc.file), problems) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            problems.append(f"{loc}: {key}: expected a mapping, got {type(value).__name__}")
            return tp()
        return _build(tp, value, key, loc, problems)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        problems.append(f"{loc}: {key}: expected {tp.__name__}, got a boolean")
        return value
    if not isinstance(value, tp):
        problems.append(f"{loc}: {key}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type[D], node: Mapping[str, Any], path: str, loc: Location, problems: list[str]) -> D:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in node:
        if key not in names:
            known = ", ".join(sorted(names))
            problems.append(f"{where(node, key, loc.file)}: {path}.{key}: unknown key (known: {known})".replace(": .", ": "))
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in node:
            key, floc = f"{path}.{f.name}".lstrip("."), where(node, f.name, loc.file)
            kwargs[f.name] = _convert(hints[f.name], node[f.name], key, floc, problems)
            _check_bound(cls, f.name, kwargs[f.name], key, floc, problems)
    return cls(**kwargs)


def build_section(cls: type[D], node: Any, path: str, file: str) -> D:
    """Build the dataclass ``cls`` from a YAML mapping (from ``acd.yamlsrc``), refusing unknown,
    missing or mistyped keys with file, line and key named. Used for every settings file."""
    problems: list[str] = []
    loc = where(node, default_file=file)
    if not isinstance(node, dict):
        raise ConfigError([f"{loc}: {path}: expected a mapping"])
    missing = [
        f.name for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in node
    ]
    for name in missing:
        problems.append(f"{loc}: {path}.{name}: required key is missing".replace(": .", ": "))
    if problems:
        raise ConfigError(problems)
    obj = _build(cls, node, path, loc, problems)
    if problems:
        raise ConfigError(problems)
    return obj


def _env_overrides(environ: Mapping[str, str]) -> list[tuple[list[str], Any, str]]:
    out = []
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX):]:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)):
            value = raw
        out.append((path, value, name))
    return out


def load_settings(config_dir: str | Path = "config", environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``<config_dir>/engine.yaml`` (optional: defaults apply) and the environment."""
    environ = os.environ if environ is None else environ
    config_dir = Path(environ.get("ACD_CONFIG_DIR", str(config_dir)))
    path = config_dir / "engine.yaml"
    problems: list[str] = []
    node: Any = SrcDict()
    node.loc = Location(str(path), 1, 1)
    node.key_locs = {}
    if path.exists():
        try:
            loaded = load_yaml(path)
        except YamlError as exc:
            raise ConfigError([str(exc)]) from None
        if loaded is not None:
            if not isinstance(loaded, dict):
                raise ConfigError([f"{path}:1:1: the file must be a mapping of sections"])
            node = loaded
    for keys, value, env_name in _env_overrides(environ):
        cursor = node
        for k in keys[:-1]:
            if not isinstance(cursor.get(k), dict):
                fresh = SrcDict()
                fresh.loc = Location(f"${env_name}", 1, 1)
                fresh.key_locs = {}
                cursor[k] = fresh
                cursor.key_locs[k] = fresh.loc
            cursor = cursor[k]
        cursor[keys[-1]] = value
        cursor.key_locs[keys[-1]] = Location(f"${env_name}", 1, 1)
    settings = _build(Settings, node, "", node.loc, problems)
    if not problems:
        _check_agi_peers(settings.pbx.agi.allow_peers, node, problems)
        _check_time_zone(settings.engine.time_zone, node, path, problems)
        _check_webhook_hash(settings.customers.webhook_token_hash, node, problems)
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(settings, config_dir=str(config_dir))


def _check_agi_peers(peers: tuple[str, ...], node: Any, problems: list[str]) -> None:
    """Each ``pbx.agi.allow_peers`` entry must be an IP address or network, named where it is written."""
    listed = node.get("pbx", {}).get("agi", {}).get("allow_peers", [])
    for i, peer in enumerate(peers):
        try:
            ipaddress.ip_network(peer.strip(), strict=False)
        except ValueError:
            problems.append(f"{where(listed, i, node.loc.file)}: pbx.agi.allow_peers[{i}]: {peer!r} is not an IP address or network")


def _check_webhook_hash(value: str, node: Any, problems: list[str]) -> None:
    """``customers.webhook_token_hash`` is a hash from ``acd customers webhook-token``, never a token
    (the problem names where it is written, not the value)."""
    if value and not value.startswith("scrypt$"):
        at = where(node.get("customers", {}), "webhook_token_hash", node.loc.file)
        problems.append(f"{at}: customers.webhook_token_hash: not a hash from `acd customers webhook-token` (never put a token here)")


def _check_time_zone(name: str, node: Any, path: Path, problems: list[str]) -> None:
    """``engine.time_zone`` must be an IANA zone the system knows (``Europe/London``, ``UTC``)."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
        return
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError; bad keys are ValueErrors
        pass
    engine = node.get("engine") if isinstance(node, Mapping) else None
    loc = getattr(engine, "key_locs", {}).get("time_zone") if engine is not None else None
    at = f"{loc.file}:{loc.line}:{loc.column}" if loc is not None else f"{path}:1:1"
    problems.append(f"{at}: engine.time_zone: {name!r} is not an IANA time zone (e.g. Europe/London, UTC)")
