"""The AMI client against the simulated Asterisk (acd.sim) over real loopback TCP: an end-to-end check
that the client and the simulator agree. The regressions proper are in test_client.py (fake server)."""

import asyncio

import pytest

from acd.ami import AmiAuthError, AmiClient, AmiLinkLost, AmiNotConnected
from acd.ami.actions import OriginateRequest, core_show_channels, originate
from acd.sim import SimPbx


@pytest.fixture
async def pbx():
    p = SimPbx(agi_port=1, time_scale=0.1)
    await p.start()
    yield p
    await p.stop()


def client(pbx, **kw):
    kw.setdefault("reconnect_min", 0.05)
    kw.setdefault("reconnect_max", 0.2)
    return AmiClient("127.0.0.1", pbx.ami_port, kw.pop("user", "acd"), kw.pop("secret", "acdsecret"), **kw)


async def test_login_and_core_status(pbx):
    async with client(pbx) as ami:
        r = await ami.action("CoreStatus")
        assert r.ok and r.get("CoreCurrentCalls") == "0"
        assert ami.banner == "Asterisk Call Manager/11.0.0"


async def test_bad_password_fails_loudly(pbx):
    ami = client(pbx, secret="wrong")
    with pytest.raises(AmiAuthError, match="refused"):
        await asyncio.wait_for(ami.start(), 5)
    assert not ami.is_connected


async def test_unreachable_asterisk_is_a_clear_error():
    ami = AmiClient("127.0.0.1", 1, "acd", "x", connect_timeout=1)
    with pytest.raises(AmiNotConnected, match="cannot reach"):
        await ami.start()


async def test_pending_originate_fails_on_link_drop_and_is_never_resent(pbx):
    links = []
    ami = client(pbx)
    ami.on_link(links.append)
    await ami.start()
    pbx.ami.withhold.add("originate")
    req = OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, channel_id="offer-x", timeout_ms=1000)
    pending = asyncio.create_task(originate(ami, req))
    await asyncio.sleep(0.1)
    pbx.ami.drop_all()
    with pytest.raises(AmiLinkLost, match="not re-sent"):
        await pending
    await ami.wait_connected(5)
    await ami.action("Ping")
    assert [a.name for a in pbx.ami.actions_seen].count("Originate") == 1
    assert links[:3] == [True, False, True]
    assert ami.reconnects == 1
    await ami.stop()


async def test_ping_that_never_returns_trips_the_watchdog(pbx):
    links = []
    ami = client(pbx, ping_interval=0.1, ping_timeout=0.2)
    ami.on_link(links.append)
    await ami.start()
    pbx.ami.answer_pings = False
    for _ in range(50):
        if False in links:
            break
        await asyncio.sleep(0.05)
    assert False in links
    pbx.ami.answer_pings = True
    await ami.wait_connected(5)
    assert links[-1] is True
    await ami.stop()


async def test_list_action_returned_whole(pbx):
    from acd.sim import CallerScript

    async with client(pbx) as ami:
        await pbx.place_call(CallerScript())
        await pbx.place_call(CallerScript())
        await asyncio.sleep(0.05)
        result = await core_show_channels(ami)
        assert result.response.get("EventList") == "start"
        assert len(result.events) == 2 and all(e.name == "CoreShowChannel" for e in result.events)
        assert result.complete is not None and result.complete.get("ListItems") == "2"


async def test_slow_subscriber_does_not_block_others(pbx):
    fast, slow_started = [], asyncio.Event()

    async def slow(event):
        slow_started.set()
        await asyncio.sleep(10)

    async with client(pbx) as ami:
        ami.subscribe("UserEvent", slow)
        ami.subscribe("UserEvent", fast.append)
        for i in range(5):
            await ami.action("UserEvent", [("UserEvent", "Tick"), ("N", str(i))])
        for _ in range(40):
            if len(fast) == 5:
                break
            await asyncio.sleep(0.025)
        assert [e.get("N") for e in fast] == ["0", "1", "2", "3", "4"]
        assert slow_started.is_set()
        assert (await ami.action("Ping")).ok  # the reader is not stalled


async def test_action_while_down_fails_fast(pbx):
    ami = client(pbx)
    with pytest.raises(AmiNotConnected):
        await ami.action("Ping")
