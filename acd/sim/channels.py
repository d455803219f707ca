"""Channels and bridges of the simulated PBX, and the AMI header blocks Asterisk 22 gives them."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from acd.sim.model import STATE_DESC, ChannelState


@dataclass
class SimChannel:
    name: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    context: str
    exten: str
    priority: int = 1
    state: ChannelState = ChannelState.DOWN
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    variables: dict[str, str] = field(default_factory=dict)
    application: str = ""
    app_data: str = ""
    bridge: "SimBridge | None" = None
    in_moh: bool = False
    moh_class: str = "default"
    alive: bool = True
    hangup_event: asyncio.Event = field(default_factory=asyncio.Event)
    bridged_event: asyncio.Event = field(default_factory=asyncio.Event)
    created: float = 0.0
    answered: float | None = None
    recording: dict | None = None
    mix_monitor_id: str | None = None

    @property
    def endpoint(self) -> str:
        return self.name.rsplit("-", 1)[0]

    def headers(self, prefix: str = "", exten: str | None = None) -> list[tuple[str, str]]:
        p = prefix
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(int(self.state))),
            (f"{p}ChannelStateDesc", STATE_DESC[int(self.state)]),
            (f"{p}CallerIDNum", self.caller_num),
            (f"{p}CallerIDName", self.caller_name),
            (f"{p}ConnectedLineNum", self.connected_num),
            (f"{p}ConnectedLineName", self.connected_name),
            (f"{p}Language", self.language),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", exten if exten is not None else self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]


@dataclass
class SimBridge:
    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    technology: str = "simple_bridge"
    channels: list[SimChannel] = field(default_factory=list)

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


HANGUP_CAUSES = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer", 21: "Call Rejected"}
