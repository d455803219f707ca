"""FastAGI: a sans-I/O codec (``codec``), a server, and a typed channel API."""

from acd.agi.channel import AgiChannel, ChannelStatus, RecordResult
from acd.agi.codec import AgiCommand, AgiEnvironment, Hangup, Reply
from acd.agi.errors import AgiCommandError, AgiError, AgiHangup, AgiProtocolError, AgiTimeout
from acd.agi.server import FastAgiServer

__all__ = [
    "AgiChannel", "ChannelStatus", "RecordResult", "AgiCommand", "AgiEnvironment", "Hangup", "Reply",
    "AgiCommandError", "AgiError", "AgiHangup", "AgiProtocolError", "AgiTimeout", "FastAgiServer",
]
