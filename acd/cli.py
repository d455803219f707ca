"""The ``acd`` command. Each area registers its own subcommands from ``acd/<area>/cli.py``
through ``register(subparsers)``, so this file only lists the areas."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that provide ``register(subparsers: argparse._SubParsersAction) -> None``.
COMMAND_MODULES = [
    "acd.runcli",  # serve, demo
    "acd.flows.cli",  # flows validate|graph|run
    "acd.store.dbcli",  # db upgrade|current
    "acd.store.cli",  # customers import|export, retention run
    "acd.reports.cli",  # report
    "acd.http.cli",  # users list|token
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acd",
        description="Contact-centre engine for Asterisk (AMI + FastAGI): IVR flows, verification, skills-based ACD.",
    )
    parser.add_argument("--version", action="version", version="acd " + __import__("acd").__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
                continue  # that area is not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from acd.logs import configure_cli

    configure_cli()
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
