"""The FastAGI server against a scripted Asterisk peer over real loopback TCP: the regressions
measured in panoramisk 1.4 are each a test here."""

import asyncio
import logging

import pytest

from acd.agi import AgiChannel, AgiCommandError, AgiHangup, AgiTimeout, FastAgiServer
from acd.agi.codec import AgiAsteriskDecoder, encode_environment, encode_hangup, encode_reply, encode_usage_error

ENV = {"agi_network": "yes", "agi_network_script": "ivr", "agi_channel": "PJSIP/caller-00000001", "agi_uniqueid": "1795354017.6", "agi_callerid": "caller", "agi_calleridname": "Test"}


class Peer:
    """Plays Asterisk's side of one FastAGI session."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.decoder = AgiAsteriskDecoder()
        self.pending = []

    @classmethod
    async def connect(cls, server, env=ENV):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        peer = cls(reader, writer)
        if env is not None:
            writer.write(encode_environment(env))
        return peer

    async def command(self, timeout=3.0):
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not data:
                return None
            self.pending += self.decoder.feed(data)
        return self.pending.pop(0)

    def send(self, data):
        self.writer.write(data)

    async def closed_by_engine(self, timeout=3.0):
        data = await asyncio.wait_for(self.reader.read(4096), timeout)
        return data == b""


@pytest.fixture
async def make_server():
    servers = []

    async def make(handler, **kw):
        server = FastAgiServer(handler, port=0, **kw)
        await server.start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        await s.stop()


async def test_typed_results_and_engine_closes_socket(make_server):
    results = {}

    async def handler(ch: AgiChannel):
        await ch.answer()
        results["data"] = await ch.get_data("beep", 8000, 4)
        results["digit"] = await ch.wait_for_digit(6000)
        results["stream"] = await ch.stream_file("beep", "0123456789#*")
        results["var"] = await ch.get_variable("CALLERID(num)")

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == "ANSWER"
    peer.send(encode_reply(200, 0))
    assert (await peer.command()).raw == "GET DATA beep 8000 4"
    peer.send(encode_reply(200, "1234"))
    assert (await peer.command()).raw == "WAIT FOR DIGIT 6000"
    peer.send(encode_reply(200, 35))
    assert (await peer.command()).raw == 'STREAM FILE beep "0123456789#*"'
    peer.send(encode_reply(200, 0, endpos=3404))
    assert (await peer.command()).raw == "GET VARIABLE CALLERID(num)"
    peer.send(encode_reply(200, 1, data="caller"))
    assert await peer.closed_by_engine()  # Asterisk never closes: the engine must
    assert results["data"].digits == "1234" and not results["data"].timed_out
    assert results["digit"] == "#"
    assert results["stream"].digit is None and results["stream"].endpos == 3404
    assert results["var"] == "caller"


async def test_peer_closing_mid_header_ends_only_that_connection(make_server):
    done = asyncio.Event()

    async def handler(ch):
        await ch.answer()
        done.set()

    server = await make_server(handler)
    bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", server.port)
    bad_writer.write(b"agi_network: yes\nagi_channel: PJSIP/x")
    await bad_writer.drain()
    bad_writer.close()
    good = await Peer.connect(server)
    assert (await good.command()).raw == "ANSWER"
    good.send(encode_reply(200, 0))
    await asyncio.wait_for(done.wait(), 3)
    assert server.failed_total == 1


async def test_hangup_between_command_and_reply_does_not_shift_replies(make_server):
    seen = {}

    async def handler(ch):
        try:
            await ch.get_data("beep", 8000, 4)
        except AgiHangup:
            seen["hangup"] = True
        seen["foo"] = await ch.get_variable("FOO")  # still allowed on a dead channel
        with pytest.raises(AgiHangup):
            await ch.stream_file("beep")  # channel command after hangup

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    peer.send(encode_hangup() + encode_reply(200, -1))  # HANGUP arrives first, then the reply
    assert (await peer.command()).raw == "GET VARIABLE FOO"
    peer.send(encode_reply(200, 1, data="bar"))
    assert await peer.closed_by_engine()
    assert seen == {"hangup": True, "foo": "bar"}


async def test_multiline_520_and_510_are_command_errors(make_server):
    errors = []

    async def handler(ch):
        for cmd in ("GET DATA", "FOOBAR"):
            try:
                await ch.command(cmd)
            except AgiCommandError as exc:
                errors.append(exc.reply.code)
        await ch.noop()

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    peer.send(encode_usage_error(["Stream the given file, and receive DTMF data.", "Returns the digits."]))
    await peer.command()
    peer.send(encode_reply(510))
    assert (await peer.command()).raw == "NOOP"
    peer.send(encode_reply(200, 0))
    assert await peer.closed_by_engine()
    assert errors == [520, 510]


async def test_511_means_the_caller_is_gone(make_server):
    outcome = {}

    async def handler(ch):
        try:
            await ch.answer()
        except AgiHangup:
            outcome["hung_up"] = ch.hung_up

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    peer.send(encode_reply(511))
    assert await peer.closed_by_engine()
    assert outcome == {"hung_up": True}


async def test_bridged_away_result_minus_one_then_hangup(make_server):
    outcome = {}

    async def handler(ch):
        try:
            await ch.exec("MusicOnHold", "default", "60")
        except AgiHangup:
            outcome["bridged"] = True

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == "EXEC MusicOnHold default,60"
    peer.send(encode_reply(200, -1))
    await asyncio.sleep(0.043)
    peer.send(encode_hangup())
    assert await peer.closed_by_engine()
    assert outcome == {"bridged": True}


async def test_accented_name_split_across_reads(make_server):
    names = []

    async def handler(ch):
        names.append(ch.env.calleridname)

    server = await make_server(handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    raw = encode_environment({**ENV, "agi_calleridname": "Zoë Brontë"})
    cut = raw.index("ë".encode()) + 1
    writer.write(raw[:cut])
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(raw[cut:])
    assert await asyncio.wait_for(reader.read(10), 3) == b""
    assert names == ["Zoë Brontë"]


async def test_environment_time_limit(make_server):
    server = await make_server(lambda ch: asyncio.sleep(0), env_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\n")  # and then nothing
    assert await asyncio.wait_for(reader.read(10), 3) == b""
    assert server.failed_total == 1


async def test_command_time_limit_closes_the_session(make_server):
    raised = []

    async def handler(ch):
        try:
            await ch.answer()
        except AgiTimeout:
            raised.append(True)

    server = await make_server(handler, command_timeout=0.2)
    peer = await Peer.connect(server)
    await peer.command()  # never answered
    assert await peer.closed_by_engine()
    assert raised == [True]


async def test_session_limit_is_logged_and_enforced(make_server, caplog):
    release = asyncio.Event()

    async def handler(ch):
        await release.wait()

    server = await make_server(handler, max_sessions=1)
    first = await Peer.connect(server)
    await asyncio.sleep(0.1)
    with caplog.at_level(logging.WARNING):
        second = await Peer.connect(server)
        assert await second.closed_by_engine()
    assert server.rejected_total == 1
    assert any("agi.session.rejected" in r.getMessage() for r in caplog.records)
    release.set()
    assert await first.closed_by_engine()


async def test_cancelled_command_closes_the_session(make_server):
    started = asyncio.Event()
    box = {}

    async def handler(ch):
        box["ch"] = ch
        started.set()
        await ch.wait_for_digit(60000)

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    await started.wait()
    for task in list(server._tasks):
        task.cancel()
    assert await peer.closed_by_engine()
    assert box["ch"].closed
