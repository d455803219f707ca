"""Asterisk Manager Interface: a sans-I/O codec (``codec``, ``frames``) and an asyncio client."""

from acd.ami.client import AmiClient, ListResult
from acd.ami.errors import AmiActionError, AmiAuthError, AmiError, AmiLinkLost, AmiNotConnected, AmiProtocolError, AmiTimeout
from acd.ami.frames import Action, Banner, Event, Headers, Response

__all__ = [
    "AmiClient", "ListResult", "AmiActionError", "AmiAuthError", "AmiError", "AmiLinkLost",
    "AmiNotConnected", "AmiProtocolError", "AmiTimeout", "Action", "Banner", "Event", "Headers", "Response",
]
