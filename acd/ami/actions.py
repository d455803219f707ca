"""Typed wrappers for the AMI actions the engine sends.

Each returns the parsed reply (or raises ``AmiActionError`` on ``Response: Error`` where the
engine must know). Channel variables go as repeated ``Variable: K=V`` headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from acd.ami.client import AmiClient, ListResult
from acd.ami.frames import Response


@dataclass(frozen=True)
class OriginateRequest:
    channel: str  # e.g. PJSIP/agent1
    context: str
    exten: str
    priority: int
    channel_id: str  # our own fresh id: the agent leg's uniqueid, used for Hangup and correlation
    timeout_ms: int  # ring time
    caller_id: str | None = None
    variables: Mapping[str, str] | None = None
    other_channel_id: str | None = None


def _variables(variables: Mapping[str, str] | None) -> list[tuple[str, str]]:
    return [("Variable", f"{k}={v}") for k, v in (variables or {}).items()]


async def originate(ami: AmiClient, req: OriginateRequest) -> Response:
    """Async Originate. The outcome arrives later as an ``OriginateResponse`` event whose
    ``Uniqueid`` is ``req.channel_id``. Never retried: a retry could ring the agent twice."""
    headers = [
        ("Channel", req.channel),
        ("Context", req.context),
        ("Exten", req.exten),
        ("Priority", str(req.priority)),
        ("Async", "true"),
        ("Timeout", str(req.timeout_ms)),
    ]
    if req.caller_id:
        headers.append(("CallerID", req.caller_id))
    headers.append(("ChannelId", req.channel_id))
    if req.other_channel_id:
        headers.append(("OtherChannelId", req.other_channel_id))
    headers += _variables(req.variables)
    return await ami.action("Originate", headers, check=True)


async def hangup(ami: AmiClient, channel: str, cause: int = 16) -> Response:
    return await ami.action("Hangup", [("Channel", channel), ("Cause", str(cause))])


async def redirect(ami: AmiClient, channel: str, context: str, exten: str, priority: int = 1) -> Response:
    return await ami.action("Redirect", [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", str(priority))], check=True)


async def getvar(ami: AmiClient, channel: str, variable: str) -> str | None:
    r = await ami.action("Getvar", [("Channel", channel), ("Variable", variable)])
    return r.get("Value") if r.ok else None


async def setvar(ami: AmiClient, channel: str, variable: str, value: str) -> Response:
    return await ami.action("Setvar", [("Channel", channel), ("Variable", variable), ("Value", value)], check=True)


async def mix_monitor(ami: AmiClient, channel: str, file: str, options: str = "i(ACD_MMID)") -> Response:
    headers = [("Channel", channel), ("File", file)]
    if options:
        headers.append(("Options", options))
    return await ami.action("MixMonitor", headers, check=True)


async def mix_monitor_mute(ami: AmiClient, channel: str, muted: bool, direction: str = "both") -> Response:
    return await ami.action("MixMonitorMute", [("Channel", channel), ("Direction", direction), ("State", "1" if muted else "0")])


async def stop_mix_monitor(ami: AmiClient, channel: str, mix_monitor_id: str | None = None) -> Response:
    headers = [("Channel", channel)]
    if mix_monitor_id:
        headers.append(("MixMonitorID", mix_monitor_id))
    return await ami.action("StopMixMonitor", headers)


async def user_event(ami: AmiClient, name: str, fields: Mapping[str, str]) -> Response:
    return await ami.action("UserEvent", [("UserEvent", name)] + list(fields.items()))


async def core_status(ami: AmiClient) -> Response:
    return await ami.action("CoreStatus", check=True)


async def core_show_channels(ami: AmiClient) -> ListResult:
    return await ami.list_action("CoreShowChannels")


async def bridge_list(ami: AmiClient) -> ListResult:
    return await ami.list_action("BridgeList")


async def device_state_list(ami: AmiClient) -> ListResult:
    return await ami.list_action("DeviceStateList")


async def status(ami: AmiClient, channel: str | None = None, variables: str | None = None) -> ListResult:
    headers = []
    if channel:
        headers.append(("Channel", channel))
    if variables:
        headers.append(("Variables", variables))
    return await ami.list_action("Status", headers)


async def command(ami: AmiClient, cli: str) -> list[str]:
    r = await ami.action("Command", [("Command", cli)])
    return r.output
