"""``acd users list|add|token``: the API users in ``config/users.yaml``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from acd.settings import ConfigError

if TYPE_CHECKING:
    from acd.http.users import Users


def _users(args: argparse.Namespace) -> Users | None:
    from acd.http.users import load_users

    try:
        return load_users(Path(args.config) / "users.yaml")
    except ConfigError as exc:
        print(f"acd users: {exc}", file=sys.stderr)
        return None


def cmd_list(args: argparse.Namespace) -> int:
    users = _users(args)
    if users is None:
        return 2
    for e in users.entries.values():
        print(f"{e.id:<12} {e.role:<10} {e.agent_id or '-':<10} {'token set' if e.token_hash else 'no token'}  {e.name}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    users = _users(args)
    if users is None:
        return 2
    if args.id not in users.entries:
        print(f"acd users token: no user {args.id!r} in {users.path}", file=sys.stderr)
        return 1
    token = users.issue_token(args.id)
    print(token)
    print(f"(shown once; only its hash is kept, in {users.path}; the engine picks it up on POST /api/v1/config/reload or restart)", file=sys.stderr)
    _kiosk_link(users.entries[args.id].role, token)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from acd.http.users import add_user
    from acd.routing.config import load_agents

    config = Path(args.config)
    agent_ids = None
    if (config / "agents.yaml").exists():
        try:
            agent_ids = {a.id for a in load_agents(config / "agents.yaml")}
        except ConfigError as exc:
            print(f"acd users add: {exc}", file=sys.stderr)
            return 2
    try:
        token = add_user(config / "users.yaml", args.id, args.name or args.id, args.role, args.agent, agent_ids, args.endpoint)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"acd users add: {problem}", file=sys.stderr)
        return 1
    print(token)
    print(f"user {args.id} ({args.role}) added to {config / 'users.yaml'}; its token is shown once (only its hash is kept). "
          "The engine picks it up on POST /api/v1/config/reload or restart.", file=sys.stderr)
    _kiosk_link(args.role, token)
    return 0


def _kiosk_link(role: str, token: str) -> None:
    if role == "kiosk":  # a wall screen: the link carries the token once, then the browser keeps it
        print(f"(kiosk: open http://<engine>:<port>/wallboard#kiosk={token} on the screen)", file=sys.stderr)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("users", help="API users and their tokens (config/users.yaml)",
                              description="List API users, or issue a user a new token (printed once, stored hashed).")
    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=usage)
    sub = p.add_subparsers(dest="users_command", metavar="ACTION")
    ls = sub.add_parser("list", help="users, roles and whether a token is set")
    ls.add_argument("--config", default="config", help="settings directory (default: config)")
    ls.set_defaults(handler=cmd_list)
    ad = sub.add_parser("add", help="add a user and print their first token (once)")
    ad.add_argument("id", help="the new user's id (letters, digits, - and _)")
    ad.add_argument("--role", required=True, choices=("agent", "supervisor", "admin", "kiosk"),
                    help="kiosk: a wall screen's read-only wallboard token")
    ad.add_argument("--name", help="display name (default: the id)")
    ad.add_argument("--agent", help="for an agent user: the agent id in config/agents.yaml")
    ad.add_argument("--endpoint", help="for a supervisor: the phone that rings to listen / whisper / barge (PJSIP/sup1)")
    ad.add_argument("--config", default="config", help="settings directory (default: config)")
    ad.set_defaults(handler=cmd_add)
    tk = sub.add_parser("token", help="issue a new token for a user (replaces the old one)")
    tk.add_argument("id", help="the user's id")
    tk.add_argument("--config", default="config", help="settings directory (default: config)")
    tk.set_defaults(handler=cmd_token)
