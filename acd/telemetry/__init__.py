"""Prometheus telemetry of the acd engine: every metric defined once, on one registry."""

from acd.telemetry.metrics import (
    AGENT_BUSY_STATES,
    AGENT_STAFFED_STATES,
    CONTENT_TYPE,
    LabelGuard,
    Telemetry,
)

__all__ = ["AGENT_BUSY_STATES", "AGENT_STAFFED_STATES", "CONTENT_TYPE", "LabelGuard", "Telemetry"]
