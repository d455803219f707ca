"""Users and their API tokens, from ``config/users.yaml``.

Tokens are stored only as slow salted hashes (``acd.secrets.hash_secret``, scrypt). Checking a
token against every user's hash on every request would cost a KDF per user per request, so a
successful check is remembered by the SHA-256 of the token (never the token itself) for the life
of the process.

A token names its user: issued tokens are ``<user id>.<random>``, and the public demo tokens of
config/users.yaml are ``demo-<user id or role>-token``. So checking any token costs one KDF at most
(the named user's hash), and a token that names nobody costs none (issue #13, item 4)."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import secrets as pysecrets
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import yaml

from acd.http import usersfile
from acd.secrets import Secret, hash_secret, verify_secret
from acd.settings import ConfigError, build_section
from acd.yamlsrc import YamlError, load_yaml, where


REFUSED_CACHE = 1024  # digests of refused tokens kept (oldest forgotten first)


class Role(IntEnum):
    KIOSK = 0  # a wall screen: reads the wallboard's data, nothing else (acd.http.api.WALLBOARD)
    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3


@dataclass(frozen=True)
class UserEntry:
    id: str
    name: str
    role: str
    token_hash: str = ""
    agent_id: str | None = None
    endpoint: str | None = None  # a supervisor's phone (PJSIP/sup1): where listen / whisper / barge ring


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    agent_id: str | None = None
    endpoint: str | None = None

    def view(self) -> dict[str, str | None]:
        return {"id": self.id, "name": self.name, "role": self.role.name.lower(), "agent_id": self.agent_id}


class Users:
    def __init__(self, entries: list[UserEntry], path: Path | None = None) -> None:
        self.path = path
        self.entries = {e.id: e for e in entries}
        self._verified: dict[str, str] = {}  # sha256(token) -> user id
        # sha256 of tokens that matched nobody, for these entries only (a reload may make one
        # valid): a client retrying a stale token costs a dict lookup, not a KDF per user
        self._refused: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._refused_for: object = self.entries

    def replace_entries(self, other: Users) -> None:
        """Take another load's users (config reload): a new entries dict, so the remembered
        refusals no longer apply and open streams re-check their user; verifications dropped."""
        self.entries, self._verified = dict(other.entries), {}

    def get(self, user_id: str) -> User | None:
        e = self.entries.get(user_id)
        return None if e is None else User(e.id, e.name, Role[e.role.upper()], e.agent_id, e.endpoint)

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def cached(self, token: str) -> User | None:
        """The user of a token verified before: no KDF, safe to call on the event loop."""
        user_id = self._verified.get(self._key(token)) if token and len(token) <= 256 else None
        return None if user_id is None else self.get(user_id)

    def refused_before(self, token: str) -> bool:
        """True when this token is refused without a KDF: it names no user, or it matched nobody
        in the current entries."""
        if not token or len(token) > 256 or self.owner(token) is None:
            return True
        return self._refused_for is self.entries and self._key(token) in self._refused

    def owner(self, token: str) -> UserEntry | None:
        """The one user a token can belong to, from its id part, or None (then no KDF is spent)."""
        user_id, dot, rest = token.partition(".")
        if dot:
            return self.entries.get(user_id) if rest else None
        if token.startswith("demo-") and token.endswith("-token"):  # the demo's public tokens
            name = token[len("demo-"):-len("-token")]
            if name in self.entries:
                return self.entries[name]
            by_role = [e for e in self.entries.values() if e.role == name]
            return by_role[0] if len(by_role) == 1 else None
        return None

    def authenticate(self, token: str) -> User | None:
        """The token's user, or None. Slow (one scrypt) unless seen before: run it in a thread."""
        if not token or len(token) > 256:
            return None
        key = self._key(token)
        user_id = self._verified.get(key)
        if user_id is None:
            if self._refused_for is not self.entries:  # reloaded: what was refused may be valid now
                self._refused, self._refused_for = collections.OrderedDict(), self.entries
            if key in self._refused:
                return None
            entry = self.owner(token)  # one KDF at most, never one per user
            user_id = entry.id if entry and entry.token_hash and verify_secret(Secret(token), entry.token_hash) else None
            if user_id is None:
                self._refused[key] = None
                while len(self._refused) > REFUSED_CACHE:
                    self._refused.popitem(last=False)
                return None
            self._verified[key] = user_id
        return self.get(user_id)

    def with_demo_tokens(self) -> list[str]:
        """Users whose token is still the public demo one (``demo-<id>-token``, see config/users.yaml)."""
        out = []
        for e in self.entries.values():
            candidates = (Secret(f"demo-{e.id}-token"), Secret(f"demo-{e.role}-token"))
            if e.token_hash and any(verify_secret(c, e.token_hash) for c in candidates):
                out.append(e.id)
        return out

    def issue_token(self, user_id: str) -> str:
        """A new random token for the user; its hash replaces the old one in the file. The token
        is returned once and kept nowhere."""
        if user_id not in self.entries or self.path is None:
            raise KeyError(user_id)
        token = f"{user_id}.{pysecrets.token_urlsafe(32)}"
        digest = hash_secret(Secret(token))
        text = self.path.read_text()
        self.path.write_text(usersfile.replace_token_hash(text, _HEADER, yaml.safe_load(text) or {}, user_id, digest))
        old = self.entries[user_id]
        self.entries[user_id] = dataclasses.replace(old, token_hash=digest)
        self._verified = {k: v for k, v in self._verified.items() if v != user_id}
        self._refused.clear()
        return token


def demo_tokens_refusal(pbx_mode: str, demo_users: list[str], path: Path | None) -> str | None:
    """Why the engine must not start: users whose token is the public demo one, against a real
    PBX (``pbx.mode: asterisk``). None when that is fine (the simulated PBX of the demo)."""
    if pbx_mode != "asterisk" or not demo_users:
        return None
    return (f"{path or 'users.yaml'}: users {', '.join(demo_users)} still have the public demo tokens; against a real PBX "
            f"give each a new one (acd users token <id>) or remove them")


def add_user(path: Path, user_id: str, name: str, role: str, agent_id: str | None = None,
             agent_ids: set[str] | None = None, endpoint: str | None = None) -> str:
    """Add a user to ``path`` (created if missing) with a new token, returned once. Refuses a
    taken id, an unknown role, an agent user without its agent (or one not in ``agent_ids``),
    an endpoint that is not a channel, with a ``ConfigError`` naming the field; the file is
    written only when all is well, its comments kept (``acd.http.usersfile``)."""
    problems = []
    if not user_id or not all(c.isalnum() or c in "-_" for c in user_id):
        problems.append(f"id: {user_id!r} must be letters, digits, '-' or '_'")
    if role.upper() not in Role.__members__:
        problems.append(f"role: {role!r} is not agent, supervisor, admin or kiosk")
    if role == "agent" and not agent_id:
        problems.append("agent_id: an agent user names its agent (--agent)")
    if agent_id and agent_ids is not None and agent_id not in agent_ids:
        problems.append(f"agent_id: {agent_id!r} is not in agents.yaml")
    if endpoint is not None and "/" not in endpoint:
        problems.append(f"endpoint: {endpoint!r} is not a channel such as PJSIP/sup1")
    users = load_users(path)
    if user_id in users.entries:
        problems.append(f"id: {user_id!r} is already a user in {path}")
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])
    text = path.read_text() if path.exists() else ""
    item: dict[str, str] = {"id": user_id, "name": name, "role": role}
    if agent_id:
        item["agent_id"] = agent_id
    if endpoint:
        item["endpoint"] = endpoint
    path.write_text(usersfile.append_user(text, _HEADER, yaml.safe_load(text) or {}, item))
    return load_users(path).issue_token(user_id)


_HEADER = """# API users. role: agent | supervisor | admin | kiosk; an agent user names its agent_id (config/agents.yaml).
# A kiosk user is a wall screen: its token reads the wallboard's data and nothing else (/wallboard#kiosk=<token>).
# A supervisor's endpoint (PJSIP/sup1) is the phone that rings to listen to, whisper to or barge in on a call.
# token_hash is a scrypt hash: set a user's token with `acd users token ID` (prints it once).
"""


def load_users(path: Path, agent_ids: set[str] | None = None) -> Users:
    """Users from ``path``; a missing file means no user can log in (the API answers 401)."""
    if not path.exists():
        return Users([], path)
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise ConfigError([str(exc)]) from None
    items = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ConfigError([f"{path}:1:1: users: expected a list of users"])
    problems: list[str] = []
    entries: list[UserEntry] = []
    for i, node in enumerate(items):
        try:
            entry = build_section(UserEntry, node, f"users[{i}]", str(path))
        except ConfigError as exc:
            problems += exc.problems
            continue
        if entry.role.upper() not in Role.__members__:
            problems.append(f"{where(node, 'role', str(path))}: users[{i}].role: {entry.role!r} is not agent, supervisor, admin or kiosk")
        if entry.role == "agent" and not entry.agent_id:
            problems.append(f"{where(node, default_file=str(path))}: users[{i}].agent_id: an agent user names its agent")
        if entry.agent_id and agent_ids is not None and entry.agent_id not in agent_ids:
            problems.append(f"{where(node, 'agent_id', str(path))}: users[{i}].agent_id: {entry.agent_id!r} is not in agents.yaml")
        if entry.endpoint is not None and "/" not in entry.endpoint:
            problems.append(f"{where(node, 'endpoint', str(path))}: users[{i}].endpoint: {entry.endpoint!r} is not a channel such as PJSIP/sup1")
        if entry.token_hash and not entry.token_hash.startswith("scrypt$"):
            problems.append(f"{where(node, 'token_hash', str(path))}: users[{i}].token_hash: not a hash from `acd users token` (never put a token here)")
        entries.append(entry)
    ids = [e.id for e in entries]
    for dup in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"{path}: users: the id {dup!r} is used twice")
    if problems:
        raise ConfigError(problems)
    return Users(entries, path)
