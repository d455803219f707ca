"""Asterisk Manager Interface: a sans-I/O codec (``codec``, ``frames``), an asyncio client
(``client``) and typed helpers for the actions the engine sends (``actions``)."""

from acd.ami.client import AmiClient, ListResult
from acd.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiEncodeError,
    AmiError,
    AmiLinkLost,
    AmiNotConnected,
    AmiProtocolError,
    AmiTimeout,
)
from acd.ami.frames import Action, Banner, Event, Headers, Response

__all__ = [
    "AmiClient", "ListResult", "AmiActionError", "AmiAuthError", "AmiEncodeError", "AmiError", "AmiLinkLost",
    "AmiNotConnected", "AmiProtocolError", "AmiTimeout", "Action", "Banner", "Event", "Headers", "Response",
]
