"""Helpers shared by the areas' ``register(subparsers)`` functions (``acd/<area>/cli.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

#: What ``register`` receives: the ``acd`` command's subcommand table (generic only in the stubs).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def usage_handler(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """The handler of a command given without its action (``acd db``): print its usage, exit 2."""

    def handler(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return handler
