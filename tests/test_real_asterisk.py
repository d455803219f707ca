"""Checks against a real Asterisk 22: set ACD_ASTERISK_AMI=host:port:user:secret to run them."""

import os

import pytest

from acd.ami import AmiClient
from acd.ami.actions import core_show_channels, core_status

AMI = os.environ.get("ACD_ASTERISK_AMI")
pytestmark = [pytest.mark.asterisk, pytest.mark.skipif(not AMI, reason="ACD_ASTERISK_AMI is not set (host:port:user:secret)")]


def parts():
    host, port, user, secret = AMI.split(":", 3)
    return host, int(port), user, secret


async def test_login_core_status_and_channels():
    host, port, user, secret = parts()
    async with AmiClient(host, port, user, secret) as ami:
        status = await core_status(ami)
        assert status.get("CoreCurrentCalls") is not None
        listing = await core_show_channels(ami)
        assert listing.complete is not None
        assert int(listing.complete.get("ListItems")) == len(listing.events)
        assert ami.banner.startswith("Asterisk Call Manager/")


async def test_ping_round_trip():
    host, port, user, secret = parts()
    async with AmiClient(host, port, user, secret) as ami:
        assert (await ami.action("Ping")).get("Ping") == "Pong"
