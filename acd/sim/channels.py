"""Channels and bridges of the simulated PBX, and the AMI header blocks Asterisk 22 gives them.

Header order is the recorded one (shared/asterisk/transcripts and connect/*/ami.txt):
``Channel, ChannelState, ChannelStateDesc, CallerIDNum, CallerIDName, ConnectedLineNum,
ConnectedLineName, Language, AccountCode, Context, Exten, Priority, Uniqueid, Linkedid``, with a
``Dest`` prefix in DialBegin/DialState/DialEnd.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.sim.model import STATE_DESC, ChannelState, Recording

if TYPE_CHECKING:
    from acd.sim.agi_caller import AgiSession
    from acd.sim.keys import KeyPad

Headers = list[tuple[str, str]]


@dataclass(eq=False)
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
    dnid: str = ""
    kind: str = "caller"  # "caller" (inbound) or "agent" (originated)
    variables: dict[str, str] = field(default_factory=dict)
    application: str = ""
    app_data: str = ""
    bridge: SimBridge | None = None
    moh_class: str | None = None  # MusicOnHold application playing (class) or None
    background_moh: str | None = None  # SET MUSIC on: music between AGI commands too
    activity: str | None = None  # "prompt" or "moh" while an application plays to the caller
    created: float = 0.0
    answered: float | None = None
    recording: Recording | None = None
    agi: AgiSession | None = None
    keypad: KeyPad | None = None
    # soft hangup requested: AGI commands get -1/511 from now on, the channel is on its way out
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    # the Hangup event was sent: the channel no longer exists
    destroyed: asyncio.Event = field(default_factory=asyncio.Event)
    # pulled out of its dialplan by Bridge() (masquerade): its AGI session now belongs to a Surrogate
    yanked: asyncio.Event = field(default_factory=asyncio.Event)
    # left its bridge (the other side hung up, or the bridge was dissolved)
    left_bridge: asyncio.Event = field(default_factory=asyncio.Event)
    # AMI Redirect while inside AGI(): takes effect when the engine closes the session
    async_goto: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_cause: int = 0
    hung_up_by: str | None = None

    @property
    def endpoint(self) -> str:
        return self.name.rsplit("-", 1)[0]

    @property
    def alive(self) -> bool:
        return not self.gone.is_set()

    def headers(self, prefix: str = "") -> Headers:
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
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
        ]


@dataclass(eq=False)
class SimBridge:
    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    technology: str = "simple_bridge"
    channels: list[SimChannel] = field(default_factory=list)

    def headers(self) -> Headers:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]
