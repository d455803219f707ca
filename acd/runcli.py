"""``acd serve`` and ``acd demo``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from acd import logs
from acd.settings import ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace, **overrides: dict[str, object]) -> Settings:
    settings = load_settings(args.config)
    for section, values in overrides.items():
        settings = dataclasses.replace(settings, **{section: dataclasses.replace(getattr(settings, section), **values)})
    logs.configure(settings.engine.log_level, settings.engine.log_format)
    return settings


def _run(args: argparse.Namespace, demo: bool) -> int:
    from acd.app import serve_forever

    try:
        overrides: dict[str, dict[str, object]] = {}
        if demo:
            overrides["pbx"] = {"mode": "sim"}
        if args.port is not None:
            overrides["http"] = {"port": args.port}
        settings = _settings(args, **overrides)
        if demo and args.calls_per_minute is not None:
            settings = dataclasses.replace(settings, demo=dataclasses.replace(settings.demo, calls_per_minute=args.calls_per_minute))
    except ConfigError as exc:
        print(f"acd: {exc}", file=sys.stderr)
        return 2
    if demo:
        base = f"http://{settings.http.host}:{settings.http.port}"
        print(f"acd demo: simulated Asterisk with demo calls; wallboard on {base}/wallboard (token demo-supervisor-token), "
              f"agent desktop on {base}/agent (token demo-agent1-token ... demo-agent6-token). Ctrl-C stops.", file=sys.stderr)
    from acd.ami import AmiError

    try:
        asyncio.run(serve_forever(settings, with_demo=demo, duration_s=args.duration))
    except (ConfigError, ValueError, OSError, AmiError) as exc:
        print(f"acd: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, demo, help_text in (
        ("serve", False, "run the engine against the PBX in config (pbx.mode: asterisk or sim)"),
        ("demo", True, "run the engine on embedded defaults against the simulated PBX with demo calls and the wallboard"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", default="config", help="settings directory (default: config)")
        p.add_argument("--port", type=int, default=None, help="HTTP port (default: http.port from settings)")
        p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: run until Ctrl-C)")
        if demo:
            p.add_argument("--calls-per-minute", type=float, default=None, help="demo call arrival rate")
        p.set_defaults(handler=lambda args, demo=demo: _run(args, demo))
