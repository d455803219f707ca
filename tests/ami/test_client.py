"""The AMI client against a scripted fake Asterisk (tests/ami/fake_ami.py) over loopback TCP.

Each regression of issue 2 (reproduced in panoramisk 1.4) is a test here."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acd.ami import AmiAuthError, AmiClient, AmiLinkLost, AmiNotConnected, AmiProtocolError, AmiTimeout
from acd.ami.actions import OriginateRequest, originate, queue_status
from acd.ami.errors import AmiActionError
from acd.secrets import Secret
from tests.ami.fake_ami import FakeAmi
from tests.transcripts import CONNECT, TRANSCRIPTS


@pytest.fixture
async def fake():
    server = await FakeAmi().start()
    yield server
    await server.stop()


def client(fake: FakeAmi, **kw) -> AmiClient:
    kw.setdefault("reconnect_min", 0.02)
    kw.setdefault("reconnect_max", 0.1)
    kw.setdefault("action_timeout", 2.0)
    return AmiClient("127.0.0.1", fake.port, kw.pop("user", "acd"), kw.pop("secret", "acdsecret"), **kw)


async def until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# ------------------------------------------------------------------ login


async def test_login_and_replayed_core_status(fake):
    fake.replay(TRANSCRIPTS / "ami_session.txt.transcript")
    links = []
    async with client(fake) as ami:
        ami.on_link(links.append)
        assert ami.is_connected and ami.banner == "Asterisk Call Manager/11.0.0"
        r = await ami.action("CoreStatus")
        assert r.status == "Success" and r.get("CoreCurrentCalls") == "0" and r.action_id.startswith("ami-")
    login = fake.actions[0]
    assert login.name == "Login" and login.get("Username") == "acd" and login.get("Secret") == "acdsecret"
    assert login.get("Events") == "on"
    assert fake.names()[-1] == "Logoff"  # stop() logs off politely
    assert links == [False] and not ami.is_connected


async def test_bad_password_fails_loudly_and_does_not_hang(fake):
    """Asterisk answers Response: Error after ~1 s and closes: start() raises, no retry loop."""
    ami = client(fake, secret="wrong")
    with pytest.raises(AmiAuthError, match="refused: Authentication failed"):
        await asyncio.wait_for(ami.start(), 5)
    assert not ami.is_connected and ami._supervisor is None
    await asyncio.sleep(0.1)
    assert fake.names() == ["Login"] and len(fake.connection_times) == 1  # not retried
    await ami.stop()  # harmless after a failed start


async def test_bad_password_replayed_from_the_recording():
    """The real bytes: banner, then Response: Error, then EOF."""
    from tests.transcripts import read_transcript

    chunks = [c.data for c in read_transcript(TRANSCRIPTS / "ami_misc.txt.badlogin.transcript") if c.direction == "RECV"]

    async def handle(reader, writer):
        writer.write(chunks[0])
        login = await reader.readuntil(b"\r\n\r\n")
        aid = login.split(b"ActionID: ", 1)[1].split(b"\r\n", 1)[0]
        for chunk in chunks[1:]:
            writer.write(chunk.replace(b"badlogin-1", aid))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    ami = AmiClient("127.0.0.1", server.sockets[0].getsockname()[1], "acd", "wrong")
    with pytest.raises(AmiAuthError):
        await asyncio.wait_for(ami.start(), 5)
    server.close()


async def test_events_in_the_same_read_as_the_login_reply_are_not_lost():
    seen = []

    async def handle(reader, writer):
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buf = await reader.readuntil(b"\r\n\r\n")
        aid = [l.split(b": ", 1)[1] for l in buf.split(b"\r\n") if l.startswith(b"ActionID")][0]
        writer.write(b"Response: Success\r\nActionID: " + aid + b"\r\nMessage: Authentication accepted\r\n\r\n"
                     + b"".join(b"Event: Tick\r\nN: %d\r\n\r\n" % i for i in range(50)))
        await reader.read()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    ami = AmiClient("127.0.0.1", server.sockets[0].getsockname()[1], "acd", "x", action_timeout=0.2)
    ami.subscribe("Tick", seen.append)
    await ami.start()
    await until(lambda: len(seen) == 50)
    assert [e.get("N") for e in seen] == [str(i) for i in range(50)]
    await ami.stop()
    server.close()


async def test_unreachable_asterisk_is_a_clear_error():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    ami = AmiClient("127.0.0.1", port, "acd", "x", connect_timeout=1)
    with pytest.raises(AmiNotConnected, match="cannot reach"):
        await ami.start()


async def test_silent_peer_times_out_the_login():
    async def handle(reader, writer):
        await reader.read()  # accepts, never sends a banner or a reply

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    ami = AmiClient("127.0.0.1", server.sockets[0].getsockname()[1], "acd", "x", connect_timeout=0.3)
    with pytest.raises(AmiTimeout, match="did not answer the login"):
        await asyncio.wait_for(ami.start(), 5)
    server.close()


async def test_a_peer_that_is_not_asterisk_is_refused():
    async def handle(reader, writer):
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await reader.read()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    ami = AmiClient("127.0.0.1", server.sockets[0].getsockname()[1], "acd", "x", connect_timeout=1)
    with pytest.raises(AmiProtocolError, match="not an Asterisk Manager"):
        await asyncio.wait_for(ami.start(), 5)
    server.close()


async def test_the_secret_is_never_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    async with client(fake, secret=Secret("acdsecret")) as ami:
        await ami.action("Ping")
        assert "acdsecret" not in repr(ami)
    bad = client(fake, secret="s3cr3t-wrong")
    with pytest.raises(AmiAuthError) as info:
        await bad.start()
    assert "s3cr3t-wrong" not in str(info.value)
    for record in caplog.records:
        text = record.getMessage() + repr(getattr(record, "acd_fields", {}))
        assert "acdsecret" not in text and "s3cr3t-wrong" not in text
    assert any(r.getMessage() == "ami.login.refused" for r in caplog.records)
    assert fake.actions[0].get("Secret") == "acdsecret"  # revealed on the wire only


# ------------------------------------------------------------------ actions


async def test_action_ids_are_unique_and_correlated(fake):
    fake.replay(TRANSCRIPTS / "ami_session.txt.transcript")
    async with client(fake) as ami:
        replies = await asyncio.gather(*(ami.action("Ping") for _ in range(20)), ami.action("CoreStatus"))
    ids = [a.action_id for a in fake.actions if a.name in ("Ping", "CoreStatus")]
    assert len(set(ids)) == 21
    assert [r.action_id for r in replies] == ids  # each caller got the reply to its own action
    assert replies[-1].get("CoreProcessedCalls") == "0"


async def test_action_timeout_and_the_late_reply_is_ignored(fake):
    fake.withhold.add("originate")
    async with client(fake) as ami:
        with pytest.raises(AmiTimeout, match="Originate .* no reply"):
            await ami.action("Originate", {"Channel": "PJSIP/agent1"}, timeout=0.1)
        aid = fake.actions[-1].action_id
        fake.broadcast(f"Response: Success\r\nActionID: {aid}\r\nMessage: late\r\n\r\n".encode())
        assert (await ami.action("Ping")).ok  # the link is fine
        assert ami.is_connected


async def test_action_while_down_fails_fast(fake):
    ami = client(fake)
    with pytest.raises(AmiNotConnected, match="not sent"):
        await ami.action("Ping")
    assert fake.actions == []


async def test_check_raises_on_error_response(fake):
    fake.replay(TRANSCRIPTS / "ami_session.txt.transcript")
    async with client(fake) as ami:
        r = await ami.action("NoSuchAction")
        assert r.status == "Error" and "Invalid/unknown command" in r.message
        with pytest.raises(AmiActionError, match="Invalid/unknown command"):
            await ami.action("NoSuchAction", check=True)


async def test_command_output_lines(fake):
    fake.replay(TRANSCRIPTS / "ami_misc.txt.transcript")
    from acd.ami.actions import command

    async with client(fake) as ami:
        assert (await command(ami, "core show version"))[0].startswith("Asterisk 22.10.1")
        with pytest.raises(AmiActionError):  # the second recorded Command is the unknown one
            await command(ami, "no such cli command")


# ------------------------------------------------------------------ list actions


async def test_list_action_returned_whole(fake):
    fake.replay(TRANSCRIPTS / "ami_session.txt.transcript")
    async with client(fake) as ami:
        result = await queue_status(ami)
    assert result.response.get("EventList") == "start"
    assert [e.name for e in result.events] == ["QueueParams", "QueueMember", "QueueMember"]
    assert result.complete.name == "QueueStatusComplete" and result.complete.get("ListItems") == "3"
    assert result.events[1].get("PausedReason") == ""


async def test_list_action_with_channels_and_unrelated_events_between(fake):
    fake.replay(CONNECT / "exp7_snapshots/a_hold_plus_bridged/ami.txt")
    others = []
    async with client(fake) as ami:
        ami.subscribe("*", others.append)
        fake.handlers["corestatus"] = lambda s, a: None
        task = asyncio.create_task(ami.list_action("CoreShowChannels"))
        await until(lambda: fake.names().count("CoreShowChannels") == 1)
        result = await task
        status = await ami.list_action("Status", [("Channel", "PJSIP/caller-000000c6"), ("Variables", "ACD_CALLER,BRIDGEPEER")])
    assert result.complete.get("ListItems") == str(len(result.events)) != "0"
    assert all(e.name == "CoreShowChannel" for e in result.events)
    assert not [e for e in others if e.name.startswith("CoreShowChannel")]  # consumed by the list
    assert status.complete is not None and status.events[0].name == "Status"


async def test_list_action_error_response(fake):
    fake.handlers["status"] = lambda s, a: s.send(f"Response: Error\r\nActionID: {a.action_id}\r\nMessage: No such channel\r\n\r\n".encode())
    async with client(fake) as ami:
        result = await ami.list_action("Status", {"Channel": "PJSIP/gone"})
    assert not result.ok and result.complete is None and result.events == []


# ------------------------------------------------------------------ events


async def test_accented_name_split_across_two_reads(fake):
    seen = []
    async with client(fake) as ami:
        ami.subscribe("Newchannel", seen.append)
        raw = "Event: Newchannel\r\nChannel: PJSIP/caller-1\r\nCallerIDName: Zoë Brontë\r\n\r\n".encode()
        cut = raw.index("ë".encode()) + 1  # between the two bytes of ë
        await fake.broadcast_in_pieces(raw[:cut], raw[cut:])
        await until(lambda: seen)
    assert seen[0].get("CallerIDName") == "Zoë Brontë"


async def test_empty_valued_last_header(fake):
    seen = []
    async with client(fake) as ami:
        ami.subscribe("Newchannel", seen.append)
        fake.broadcast(b"Event: Newchannel\r\nChannel: PJSIP/caller-1\r\nAccountCode: \r\n\r\nEvent: Newchannel\r\nAccountCode:\r\n\r\n")
        await until(lambda: len(seen) == 2)
    for event in seen:
        assert "AccountCode" in event.headers and event.get("AccountCode") == "" and event.headers.items()[-1] == ("AccountCode", "")


async def test_originate_response_is_an_event_not_a_reply(fake):
    fake.replay(TRANSCRIPTS / "ami_session.txt.transcript")
    outcomes = []
    async with client(fake) as ami:
        ami.subscribe("OriginateResponse", outcomes.append)
        r1 = await ami.action("Originate", [("Channel", "Local/100@test-local"), ("Application", "Wait"), ("Data", "2"), ("Async", "true")])
        r2 = await ami.action("Originate", [("Channel", "Local/101@test-local"), ("Application", "Wait"), ("Data", "2"), ("Async", "true")])
        await until(lambda: len(outcomes) == 2)
    assert r1.message == "Originate successfully queued" and r2.ok
    assert [(e.action_id, e.get("Response")) for e in outcomes] == [(r1.action_id, "Success"), (r2.action_id, "Failure")]


async def test_slow_subscriber_does_not_block_other_events(fake):
    fast, inline, slow_started = [], [], asyncio.Event()

    async def slow(event):
        slow_started.set()
        await asyncio.sleep(30)

    async def fast_async(event):
        fast.append(event.get("N"))

    async with client(fake, subscriber_queue=5) as ami:
        ami.subscribe("UserEvent", slow)
        ami.subscribe("UserEvent", fast_async)
        ami.subscribe("*", lambda e: inline.append(e.get("N")))
        for i in range(12):
            fake.broadcast(f"Event: UserEvent\r\nUserEvent: Tick\r\nN: {i}\r\n\r\n".encode())
            assert (await ami.action("Ping")).ok  # the reader is not stalled
        await until(lambda: len(fast) == 12 and len(inline) == 12)
        assert fast == inline == [str(i) for i in range(12)]
        assert slow_started.is_set()
        assert ami.events_dropped == 12 - 1 - 5  # the slow one holds 1 and queues 5; the rest are counted
        assert ami.is_connected


async def test_unsubscribe_and_failing_subscriber(fake):
    seen = []

    def broken(event):
        raise RuntimeError("subscriber bug")

    async with client(fake) as ami:
        ami.subscribe("Tick", broken)
        off = ami.subscribe("Tick", seen.append)
        fake.broadcast(b"Event: Tick\r\nN: 1\r\n\r\n")
        await until(lambda: len(seen) == 1)
        off()
        fake.broadcast(b"Event: Tick\r\nN: 2\r\n\r\nEvent: Other\r\n\r\n")
        assert (await ami.action("Ping")).ok
    assert [e.get("N") for e in seen] == ["1"]


async def test_malformed_frame_is_skipped_and_reading_goes_on(fake):
    seen = []
    async with client(fake) as ami:
        ami.subscribe("*", seen.append)
        fake.broadcast(b"Event: A\r\n\r\nthis is not AMI\r\n\r\nEvent: B\r\n\r\n")
        await until(lambda: len(seen) == 2)
        fake.broadcast(b"Event: C\r\n\r\n")
        await until(lambda: len(seen) == 3)
        assert ami.protocol_errors == 1 and ami.is_connected
    assert [e.name for e in seen] == ["A", "B", "C"]


# ------------------------------------------------------------------ link loss


async def test_originate_pending_when_the_link_drops_fails_and_is_never_resent(fake):
    links = []
    ami = client(fake)
    ami.on_link(links.append)
    await ami.start()
    fake.withhold.add("originate")
    req = OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, channel_id="offer-x", timeout_ms=15000,
                           variables={"ACD_CALLER": "1795355664.151"})
    pending = asyncio.create_task(originate(ami, req))
    await until(lambda: "Originate" in fake.names())
    fake.drop_all()
    with pytest.raises(AmiLinkLost, match="Originate .* dropped .* not re-sent"):
        await pending
    await ami.wait_connected(5)
    fake.withhold.clear()
    assert (await ami.action("Ping")).ok
    await asyncio.sleep(0.1)
    assert fake.names().count("Originate") == 1  # exactly once, even after the reconnect
    assert fake.names().count("Login") == 2
    assert links == [True, False, True]
    assert ami.reconnects == 1 and ami.link_drops == 1 and ami.actions_lost == 1
    await ami.stop()


async def test_every_pending_action_fails_on_a_drop(fake):
    fake.withhold |= {"status", "getvar"}
    async with client(fake) as ami:
        tasks = [asyncio.create_task(ami.list_action("Status")), asyncio.create_task(ami.action("Getvar", {"Variable": "X"}))]
        await until(lambda: {"Status", "Getvar"} <= set(fake.names()))
        fake.drop_all()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, AmiLinkLost) for r in results)
        await ami.wait_connected(5)
    assert fake.names().count("Status") == 1 and fake.names().count("Getvar") == 1


async def test_ping_that_never_returns_trips_the_watchdog(fake):
    links = []
    ami = client(fake, ping_interval=0.05, ping_timeout=0.15)
    ami.on_link(links.append)
    await ami.start()
    fake.answer_pings = False
    await until(lambda: False in links)
    assert ami.ping_timeouts >= 1 and "ping watchdog" in (ami.last_error or "")
    fake.answer_pings = True
    await until(lambda: links[-1] is True and ami.is_connected)
    assert ami.reconnects >= 1 and fake.names().count("Login") >= 2
    await ami.stop()


async def test_watchdog_catches_a_peer_that_goes_silent_without_closing():
    """A half-dead peer: it keeps the socket open but never answers again (no FIN, no RST)."""
    logins = []

    async def handle(reader, writer):
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buf = await reader.readuntil(b"\r\n\r\n")
        aid = [l.split(b": ", 1)[1] for l in buf.split(b"\r\n") if l.startswith(b"ActionID")][0]
        logins.append(aid)
        writer.write(b"Response: Success\r\nActionID: " + aid + b"\r\nMessage: Authentication accepted\r\n\r\n")
        await asyncio.sleep(3600)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    links = []
    ami = AmiClient("127.0.0.1", server.sockets[0].getsockname()[1], "acd", "x", ping_interval=0.05, ping_timeout=0.1,
                    reconnect_min=0.02, reconnect_max=0.05)
    ami.on_link(links.append)
    await ami.start()
    await until(lambda: links.count(True) >= 2)
    assert links[:3] == [True, False, True] and len(logins) >= 2
    await ami.stop()
    server.close()


async def test_reconnect_backoff_fires_link_down_then_up(fake):
    events = []

    async def async_listener(up):
        events.append(("async", up))

    ami = client(fake, reconnect_min=0.04, reconnect_max=0.2)
    ami.on_link(lambda up: events.append(("sync", up)))
    ami.on_link(async_listener)
    await ami.start()
    first_connect = len(fake.connection_times)
    fake.refuse = 3  # the next three connection attempts are cut at once
    fake.drop_all()
    await ami.wait_connected(5)
    await until(lambda: ("async", True) in events[2:])
    assert ("sync", False) in events and events.count(("sync", True)) == 2
    times = fake.connection_times[first_connect:]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Backoff doubles from reconnect_min with jitter in [0.5, 1.0]: a sleep never ends early.
    for i, gap in enumerate(gaps):
        assert gap >= 0.5 * min(0.2, 0.04 * 2 ** (i + 1)) * 0.95, gaps
    assert ami.reconnects == 1
    await ami.stop()


async def test_wrong_password_during_reconnect_keeps_retrying(fake):
    ami = client(fake)
    await ami.start()
    fake.secret = "rotated"
    fake.drop_all()
    await until(lambda: fake.names().count("Login") >= 3)
    assert not ami.is_connected and "refused" in (ami.last_error or "")
    with pytest.raises(AmiNotConnected):
        await ami.wait_connected(0.05)
    fake.secret = "acdsecret"
    await ami.wait_connected(5)
    await ami.stop()


async def test_stop_while_reconnecting_is_clean(fake):
    ami = client(fake, reconnect_min=5, reconnect_max=5)
    await ami.start()
    fake.drop_all()
    await until(lambda: not ami.is_connected)
    await asyncio.wait_for(ami.stop(), 2)
    assert ami._supervisor is None
    with pytest.raises(AmiNotConnected):
        await ami.action("Ping")
