"""Typed wrappers for the AMI actions the engine sends.

Header order is the one recorded against Asterisk 22 (../shared/asterisk/connect/*/ami.txt), so
``encode_action(name, <name>_headers(...))`` reproduces the recorded bytes. Channel variables go
as repeated ``Variable: K=V`` headers. Wrappers whose failure the engine must act on raise
``AmiActionError`` on ``Response: Error`` (``check=True``); the others return the Response.

None of these is ever retried: a pending action that meets a link drop fails with
``AmiLinkLost`` (see ``AmiClient``), and re-sending an Originate could ring an agent twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Coroutine, Mapping
from typing import Any

from acd.ami.client import AmiClient, ListResult
from acd.ami.frames import Response

Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class OriginateRequest:
    channel: str  # e.g. PJSIP/agent1
    context: str
    exten: str
    priority: int
    channel_id: str | None  # our own fresh id: the agent leg's uniqueid, for Hangup and correlation
    timeout_ms: int  # ring time
    caller_id: str | None = None
    variables: Mapping[str, str] | None = None
    other_channel_id: str | None = None
    async_: bool = True  # the reply comes at once; the outcome later as an OriginateResponse event
    account: str | None = None


def variable_headers(variables: Mapping[str, object] | None) -> Pairs:
    return [("Variable", f"{k}={v}") for k, v in (variables or {}).items()]


def originate_headers(req: OriginateRequest) -> Pairs:
    """Headers of an Originate to a dialplan extension, in the recorded order."""
    headers: Pairs = [
        ("Channel", req.channel),
        ("Context", req.context),
        ("Exten", req.exten),
        ("Priority", str(req.priority)),
    ]
    if req.async_:
        headers.append(("Async", "true"))
    headers.append(("Timeout", str(req.timeout_ms)))
    if req.caller_id:
        headers.append(("CallerID", req.caller_id))
    if req.account:
        headers.append(("Account", req.account))
    if req.channel_id:
        headers.append(("ChannelId", req.channel_id))
    if req.other_channel_id:
        headers.append(("OtherChannelId", req.other_channel_id))
    return headers + variable_headers(req.variables)


async def originate(
    ami: AmiClient,
    req: OriginateRequest | str,
    context: str | None = None,
    exten: str | None = None,
    priority: int = 1,
    *,
    channel_id: str | None = None,
    timeout_ms: int = 30_000,
    caller_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    other_channel_id: str | None = None,
    async_: bool = True,
    timeout: float | None = None,
) -> Response:
    """Originate a call into the dialplan. Either ``originate(ami, OriginateRequest(...))`` or
    ``originate(ami, channel, context, exten, priority, channel_id=..., timeout_ms=...,
    caller_id=..., variables={...})``. With ``async_`` (the default) Asterisk replies at once
    ("Originate successfully queued") and reports the outcome in an ``OriginateResponse`` event
    whose ``Uniqueid`` is ``channel_id``. Raises ``AmiActionError`` on ``Response: Error``.
    Never retried."""
    if not isinstance(req, OriginateRequest):
        if context is None or exten is None:
            raise TypeError("originate(ami, channel, context, exten, ...) needs context and exten")
        req = OriginateRequest(req, context, exten, priority, channel_id, timeout_ms, caller_id, variables, other_channel_id, async_)
    if timeout is None and not req.async_:
        timeout = max(ami.action_timeout, req.timeout_ms / 1000 + 5)  # a sync Originate waits for the answer
    return await ami.action("Originate", originate_headers(req), timeout=timeout, check=True)


def originate_now(ami: AmiClient, req: OriginateRequest) -> Coroutine[Any, Any, Response]:
    """An async ``Originate`` written to Asterisk before this returns (``AmiClient.action_now``);
    await the result for its Response (``AmiActionError`` on ``Response: Error``). Never retried."""
    if not req.async_:
        raise ValueError("originate_now is for an async Originate (its reply comes at once)")
    return ami.action_now("Originate", originate_headers(req), check=True)


async def originate_application(ami: AmiClient, channel: str, application: str, data: str, *, channel_id: str,
                                 timeout_ms: int = 30_000, caller_id: str | None = None) -> Response:
    """Async Originate of ``channel`` straight into a dialplan application (``ChanSpy``) once it
    answers: ``Channel``, ``Application``, ``Data``, ``Async``, ``Timeout``, ``CallerID``,
    ``ChannelId``. The outcome comes later as an ``OriginateResponse`` whose ``Uniqueid`` is
    ``channel_id``. Raises ``AmiActionError`` on ``Response: Error``; never retried."""
    headers: Pairs = [("Channel", channel), ("Application", application), ("Data", data), ("Async", "true"),
                      ("Timeout", str(timeout_ms))]
    if caller_id:
        headers.append(("CallerID", caller_id))
    headers.append(("ChannelId", channel_id))
    return await ami.action("Originate", headers, check=True)


async def hangup(ami: AmiClient, channel: str, cause: int | None = 16) -> Response:
    """Hang up a channel by name or by its ChannelId/uniqueid. ``Response: Error`` ("No such
    channel") is returned, not raised: the channel may already be gone, which is fine."""
    headers: Pairs = [("Channel", channel)]
    if cause is not None:
        headers.append(("Cause", str(cause)))
    return await ami.action("Hangup", headers)


async def redirect(ami: AmiClient, channel: str, context: str, exten: str, priority: int = 1, *, extra_channel: str | None = None) -> Response:
    headers: Pairs = [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", str(priority))]
    if extra_channel:
        headers += [("ExtraChannel", extra_channel), ("ExtraContext", context), ("ExtraExten", exten), ("ExtraPriority", str(priority))]
    return await ami.action("Redirect", headers, check=True)


async def getvar(ami: AmiClient, channel: str | None, variable: str) -> str | None:
    """A channel variable (or a global one with ``channel=None``); None if unset or no channel."""
    headers: Pairs = [("Channel", channel)] if channel else []
    r = await ami.action("Getvar", headers + [("Variable", variable)])
    return r.get("Value") if r.ok else None


async def setvar(ami: AmiClient, channel: str | None, variable: str, value: str) -> Response:
    headers: Pairs = [("Channel", channel)] if channel else []
    return await ami.action("Setvar", headers + [("Variable", variable), ("Value", value)], check=True)


async def mix_monitor(ami: AmiClient, channel: str, file: str, options: str | None = "i(ACD_MMID)") -> Response:
    """Start recording ``channel`` into ``file``. The default option stores the MixMonitor id
    in the channel variable ACD_MMID (for StopMixMonitor by id)."""
    headers: Pairs = [("Channel", channel), ("File", file)]
    if options:
        headers.append(("Options", options))
    return await ami.action("MixMonitor", headers, check=True)


async def mix_monitor_mute(ami: AmiClient, channel: str, direction: str = "both", state: bool = True) -> Response:
    """Mute (``state=True``) or unmute one direction (read, write, both) of a recording, e.g.
    while a caller gives card details."""
    if direction not in ("read", "write", "both"):
        raise ValueError(f"MixMonitorMute direction must be read, write or both, not {direction!r}")
    return await ami.action("MixMonitorMute", [("Channel", channel), ("Direction", direction), ("State", "1" if state else "0")], check=True)


async def stop_mix_monitor(ami: AmiClient, channel: str, mix_monitor_id: str | None = None) -> Response:
    headers: Pairs = [("Channel", channel)]
    if mix_monitor_id:
        headers.append(("MixMonitorID", mix_monitor_id))
    return await ami.action("StopMixMonitor", headers)


async def user_event(ami: AmiClient, name: str, fields: Mapping[str, str] | None = None) -> Response:
    return await ami.action("UserEvent", [("UserEvent", name)] + list((fields or {}).items()))


async def command(ami: AmiClient, cli: str) -> list[str]:
    """Run a CLI command; returns its output lines. ``AmiActionError`` for an unknown command."""
    r = await ami.action("Command", [("Command", cli)], check=True)
    return r.output


async def core_status(ami: AmiClient) -> Response:
    return await ami.action("CoreStatus", check=True)


async def core_show_channels(ami: AmiClient) -> ListResult:
    """Every channel: ``CoreShowChannel`` events (Uniqueid, Channel, Linkedid, BridgeId...)."""
    return await ami.list_action("CoreShowChannels")


async def bridge_list(ami: AmiClient, bridge_type: str | None = None) -> ListResult:
    return await ami.list_action("BridgeList", [("BridgeType", bridge_type)] if bridge_type else [])


async def bridge_info(ami: AmiClient, bridge_uniqueid: str) -> ListResult:
    return await ami.list_action("BridgeInfo", [("BridgeUniqueid", bridge_uniqueid)])


async def device_state_list(ami: AmiClient) -> ListResult:
    return await ami.list_action("DeviceStateList")


async def status(ami: AmiClient, channel: str | None = None, variables: str | list[str] | None = None, *, all_variables: bool = False) -> ListResult:
    """Channel status (``Status`` events). ``complete`` is None when the channel does not exist
    (``Response: Error``)."""
    headers: Pairs = []
    if channel:
        headers.append(("Channel", channel))
    if variables:
        headers.append(("Variables", variables if isinstance(variables, str) else ",".join(variables)))
    if all_variables:
        headers.append(("AllVariables", "true"))
    return await ami.list_action("Status", headers)


async def queue_status(ami: AmiClient, queue: str | None = None, member: str | None = None) -> ListResult:
    """app_queue state: ``QueueParams``, ``QueueMember`` and ``QueueEntry`` events."""
    headers: Pairs = []
    if queue:
        headers.append(("Queue", queue))
    if member:
        headers.append(("Member", member))
    return await ami.list_action("QueueStatus", headers)
