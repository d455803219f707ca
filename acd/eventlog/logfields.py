"""One structured log line per event, in the engine's format (``acd.logs`` reads ``acd_fields``),
without importing ``acd.logs`` into this strictly typed package."""

from __future__ import annotations

import logging


def log_event(logger: logging.Logger, level: int, name: str, /, **fields: object) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"acd_fields": fields}, stacklevel=2)
