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


async def test_a_prompt_asterisk_cannot_open_is_not_a_hangup(make_server):
    """res_agi answers STREAM FILE of a missing file ``200 result=-1 endpos=0`` with the channel
    alive (Asterisk 22.10.1: "File welcome does not exist in any format"); the engine asks
    CHANNEL STATUS and goes on instead of ending the call as a hangup."""
    results = {}

    async def handler(ch):
        results["stream"] = await ch.stream_file("welcome")
        results["hung_up"] = ch.hung_up
        results["digit"] = await ch.wait_for_digit(100)

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == 'STREAM FILE welcome ""'
    peer.send(encode_reply(200, -1, endpos=0))
    assert (await peer.command()).raw == "CHANNEL STATUS"
    peer.send(encode_reply(200, 6))
    assert (await peer.command()).raw == "WAIT FOR DIGIT 100"
    peer.send(encode_reply(200, 0))
    assert await peer.closed_by_engine()
    assert results["stream"].digit is None and results["stream"].endpos == 0
    assert results["hung_up"] is False and results["digit"] is None


@pytest.mark.parametrize("notice", ["hangup_first", "511"])
async def test_a_caller_gone_during_a_prompt_is_still_a_hangup(make_server, notice):
    """result=-1 from a hangup or a bridge-away: HANGUP comes with it or the probe gets 511."""
    raised = []

    async def handler(ch):
        try:
            await ch.stream_file("queue-thereare")
        except AgiHangup:
            raised.append(ch.hung_up)

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    if notice == "hangup_first":
        peer.send(encode_reply(200, -1, endpos=1200) + encode_hangup())  # no probe: refused at once
    else:
        peer.send(encode_reply(200, -1, endpos=1200))
        assert (await peer.command()).raw == "CHANNEL STATUS"
        peer.send(encode_reply(511))
    assert await peer.closed_by_engine()
    assert raised == [True]


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


# --------------------------------------------------------------------------- recorded sessions, end to end
from acd.agi import AgiError, AgiProtocolError  # noqa: E402
from acd.agi.codec import AgiEngineDecoder, Reply  # noqa: E402
from acd.logs import KeyValueFormatter  # noqa: E402
from tests.transcripts import agi_transcripts, read_transcript  # noqa: E402


def _exchanges(path):
    """(environment bytes, [(command bytes, the bytes Asterisk sent after it)])."""
    env, exchanges = b"", []
    for chunk in read_transcript(path):
        if chunk.direction == "AGI>":
            exchanges.append([chunk.data, b""])
        elif chunk.direction == "AST>":
            if exchanges:
                exchanges[-1][1] += chunk.data
            else:
                env += chunk.data
    return env, [tuple(e) for e in exchanges]


@pytest.mark.parametrize("path", agi_transcripts(), ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_recorded_session_through_the_server(make_server, path):
    """The engine re-sends the recorded commands through a real socket; the fake Asterisk
    answers with the recorded bytes. Every reply lands on its own command, 510/520 are command
    errors, 511 and refused-after-hangup are AgiHangup, and the engine closes the socket."""
    env, exchanges = _exchanges(path)
    outcomes = []

    async def handler(ch):
        for raw, _ in exchanges:
            (cmd,) = AgiAsteriskDecoder().feed(raw)
            try:
                outcomes.append(await ch.command(cmd.name, *cmd.args))
            except AgiError as exc:
                outcomes.append(type(exc).__name__)

    server = await make_server(handler)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(env)
    skipped, pending = [], list(exchanges)
    while True:
        data = await asyncio.wait_for(reader.readline(), 3)
        if not data:
            break
        while pending and pending[0][0] != data:
            skipped.append(pending.pop(0))  # refused by the engine without asking Asterisk
        assert pending, f"unexpected command {data!r}"
        writer.write(pending.pop(0)[1])
    skipped += pending  # refused at the end
    assert all(reply.startswith(b"511 ") for _, reply in skipped)
    assert len(outcomes) == len(exchanges)
    for (raw, reply_bytes), outcome in zip(exchanges, outcomes):
        dec = AgiEngineDecoder()
        dec.expect_reply()
        (reply,) = [f for f in dec.feed(b"\n" + reply_bytes)[1:] if isinstance(f, Reply)]
        if reply.code in (510, 520):
            assert outcome == "AgiCommandError", raw
        elif reply.code == 511:
            assert outcome == "AgiHangup", raw
        else:
            assert outcome == reply, raw


# --------------------------------------------------------------------------- more regressions
async def test_stalled_peer_mid_header_does_not_stall_other_sessions(make_server):
    finished = asyncio.Event()

    async def handler(ch):
        await ch.noop()
        finished.set()

    server = await make_server(handler, env_timeout=5)
    stalled_reader, stalled_writer = await asyncio.open_connection("127.0.0.1", server.port)
    stalled_writer.write(b"agi_network: yes\nagi_chan")  # half a line, then silence
    await stalled_writer.drain()
    good = await Peer.connect(server)
    assert (await good.command()).name == "NOOP"
    good.send(encode_reply(200, 0))
    await asyncio.wait_for(finished.wait(), 3)
    assert await good.closed_by_engine()
    for _ in range(100):  # the good session's task finishes just after it closed the socket
        if server.active_sessions == 1:
            break
        await asyncio.sleep(0.01)
    assert server.active_sessions == 1  # only the stalled one is left, waiting for its limit
    stalled_writer.close()


async def test_hangup_notice_before_a_normal_reply(make_server):
    seen = {}

    async def handler(ch):
        await ch.noop()
        seen["hung_up_after_noop"] = ch.hung_up
        with pytest.raises(AgiHangup):
            await ch.answer()  # refused here, never sent
        seen["var"] = await ch.get_variable("X")

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).name == "NOOP"
    peer.send(encode_hangup() + encode_reply(200, 0))
    assert (await peer.command()).raw == "GET VARIABLE X"  # no ANSWER in between
    peer.send(encode_reply(200, 0))
    assert await peer.closed_by_engine()
    assert seen == {"hung_up_after_noop": True, "var": None}


async def test_multiline_520_byte_by_byte(make_server):
    got = []

    async def handler(ch):
        with pytest.raises(AgiCommandError) as info:
            await ch.command("GET DATA")
        got.append(info.value.reply.lines)
        got.append(await ch.get_variable("A"))

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    for b in encode_usage_error(["Stream the given file.", "Returns the digits."]):
        peer.send(bytes([b]))
        await peer.writer.drain()
    assert (await peer.command()).raw == "GET VARIABLE A"
    peer.send(encode_reply(200, 1, data="a"))
    assert await peer.closed_by_engine()
    assert got == [("520-Invalid command syntax.  Proper usage follows:", "Stream the given file.",
                    "Returns the digits.", "520 End of proper usage."), "a"]


async def test_garbage_reply_is_a_protocol_error_and_ends_the_session(make_server):
    raised = []

    async def handler(ch):
        try:
            await ch.answer()
        except AgiProtocolError:
            raised.append(ch.closed)

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    peer.send(b"hello there\n")
    assert await peer.closed_by_engine()
    assert raised == [True] and server.failed_total == 0  # the handler dealt with it


async def test_router_by_script_and_unknown_script(make_server, caplog):
    ran = []

    async def claim(ch):
        ran.append(ch.env.network_script)

    server = await make_server({"claim": claim})
    ok = await Peer.connect(server, {**ENV, "agi_network_script": "claim"})
    assert await ok.closed_by_engine()
    with caplog.at_level(logging.WARNING):
        unknown = await Peer.connect(server, {**ENV, "agi_network_script": "nosuch"})
        assert await unknown.closed_by_engine()
    assert ran == ["claim"] and server.unknown_script_total == 1
    assert any("agi.session.unknown_script" in r.getMessage() for r in caplog.records)


class _Lines(logging.Handler):
    """Formats at emit time, in the emitting task's context, as the real log handler does."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(KeyValueFormatter())
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


async def test_every_session_log_line_carries_the_call_id(make_server):
    lines = _Lines()
    root = logging.getLogger("acd.agi")
    root.addHandler(lines)
    old = root.level
    root.setLevel(logging.DEBUG)
    try:
        async def handler(ch):
            await ch.exec("MusicOnHold", "default", "5")

        server = await make_server(handler)
        peer = await Peer.connect(server)
        await peer.command()
        peer.send(encode_reply(200, -1))
        peer.send(encode_hangup())
        assert await peer.closed_by_engine()
        await asyncio.sleep(0.05)
    finally:
        root.removeHandler(lines)
        root.setLevel(old)
    session = [line for line in lines.lines if "agi.session." in line or "agi.channel." in line]
    assert any("agi.session.start" in line for line in session) and any("agi.session.end" in line for line in session)
    assert all("call_id=1795354017.6" in line for line in session), session


async def test_moh_exec_gets_its_own_duration_as_time_limit(make_server):
    results = []

    async def handler(ch):
        results.append(await ch.exec("MusicOnHold", "default", "1"))

    server = await make_server(handler, command_timeout=0.3)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == "EXEC MusicOnHold default,1"
    await asyncio.sleep(0.6)  # longer than command_timeout, shorter than 1 s + margin
    peer.send(encode_reply(200, 0))
    assert await peer.closed_by_engine()
    assert results == [0]


async def test_per_call_timeout_override(make_server):
    raised = []

    async def handler(ch):
        try:
            await ch.stream_file("long-announcement", timeout=0.1)
        except AgiTimeout:
            raised.append(ch.closed)

    server = await make_server(handler, command_timeout=30)
    peer = await Peer.connect(server)
    await peer.command()
    assert await peer.closed_by_engine()
    assert raised == [True]


async def test_exec_of_unknown_application_is_a_command_error(make_server):
    raised = []

    async def handler(ch):
        try:
            await ch.exec("NoSuchApp", "x")
        except AgiCommandError as exc:
            raised.append(exc.reply.result_int)

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == "EXEC NoSuchApp x"
    peer.send(encode_reply(200, -2))
    assert await peer.closed_by_engine()
    assert raised == [-2]


async def test_session_limit_frees_up_and_counters(make_server):
    release = asyncio.Event()

    async def handler(ch):
        await ch.noop()
        await release.wait()

    server = await make_server(handler, max_sessions=1)
    first = await Peer.connect(server)
    await first.command()
    first.send(encode_reply(200, 0))
    second = await Peer.connect(server)
    assert await second.closed_by_engine()
    release.set()
    assert await first.closed_by_engine()
    for _ in range(50):
        if server.active_sessions == 0:
            break
        await asyncio.sleep(0.01)
    third = await Peer.connect(server)
    assert (await third.command()).name == "NOOP"  # accepted again
    third.send(encode_reply(200, 0))
    assert await third.closed_by_engine()
    assert server.rejected_total == 1 and server.sessions_total == 2
    assert server.commands_total == 2 and server.command_seconds_sum > 0


async def test_stop_closes_active_sessions(make_server):
    started = asyncio.Event()

    async def handler(ch):
        started.set()
        await ch.exec("MusicOnHold", "default", "60")

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    await started.wait()
    await server.stop()
    assert await peer.closed_by_engine()
    assert server.active_sessions == 0
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_asterisk_closing_mid_command_is_a_hangup(make_server):
    raised = []

    async def handler(ch):
        try:
            await ch.exec("MusicOnHold", "default", "60")
        except AgiHangup:
            raised.append(ch.hung_up)

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    peer.send(encode_reply(200, -1) + encode_hangup() + encode_hangup())  # AGIEXITONHANGUP=yes
    peer.writer.close()
    await asyncio.sleep(0.1)
    assert raised == [True]


async def test_a_reply_before_any_command_ends_the_session(make_server, caplog):
    """Issue #13.7: a reply with no command pending (``200 result=-1`` right after the
    environment block) is the peer's protocol error: the session ends before the handler runs."""
    ran = []

    async def handler(ch):
        ran.append(ch)
        await ch.answer()

    server = await make_server(handler)
    with caplog.at_level(logging.WARNING):
        peer = await Peer.connect(server, env=None)
        peer.send(encode_environment(ENV) + encode_reply(200, -1))  # one write: one read
        assert await peer.closed_by_engine()
    assert not ran and server.failed_total == 1 and server.sessions_total == 0
    assert any("no command pending" in str(getattr(r, "acd_fields", {}).get("error")) for r in caplog.records)


async def test_an_environment_block_over_the_caps_is_refused_and_closed(make_server, caplog):
    async def handler(ch):
        raise AssertionError("a refused session must not run")

    server = await make_server(handler, max_env_lines=8)
    with caplog.at_level(logging.WARNING):
        peer = await Peer.connect(server, env=None)
        peer.send(b"".join(b"agi_x%d: y\n" % i for i in range(9)))
        assert await peer.closed_by_engine()
    assert server.refused_limit_total == 1 and server.failed_total == 1
    refused = [r.acd_fields for r in caplog.records if r.getMessage() == "agi.session.refused"]
    assert refused and "longer than 8 lines" in refused[0]["reason"]


async def test_allow_peers_closes_other_addresses_at_once(make_server, caplog):
    async def handler(ch):
        await ch.answer()

    closed = await make_server(handler, allow_peers=["10.9.9.9", "192.168.0.0/16"])
    with caplog.at_level(logging.WARNING):
        peer = await Peer.connect(closed)
        assert await peer.closed_by_engine()
    assert closed.refused_peer_total == 1 and closed.sessions_total == 0
    assert [r.acd_fields["reason"] for r in caplog.records if r.getMessage() == "agi.session.refused"] == ["peer not in pbx.agi.allow_peers"]
    open_ = await make_server(handler, allow_peers=["127.0.0.0/8"])
    peer = await Peer.connect(open_)
    assert (await peer.command()).raw == "ANSWER"
    peer.send(encode_reply(200, 0))
    assert await peer.closed_by_engine()
    assert open_.refused_peer_total == 0 and open_.sessions_total == 1
    with pytest.raises(ValueError, match="not an IP address"):
        FastAgiServer(handler, allow_peers=["asterisk.example"])


# ANSWER written ahead (AgiChannel.send_ahead): the call goes on without waiting for Asterisk's
# reply, which the next command reads, in order; a hangup it reports is raised there.


async def test_the_handler_goes_on_before_the_answer_reply_and_the_next_command_reads_it(make_server):
    went_on = asyncio.Event()
    got = {}

    async def handler(ch):
        ch.answer_ahead()
        went_on.set()  # with ``await ch.answer()`` this would wait for the peer's reply
        got["language"] = await ch.get_variable("CHANNEL(language)")

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == "ANSWER"
    await asyncio.wait_for(went_on.wait(), 3)  # no reply sent yet
    peer.send(encode_reply(200, 0))
    assert (await peer.command()).raw == "GET VARIABLE CHANNEL(language)"
    peer.send(encode_reply(200, 1, "fr"))
    assert await peer.closed_by_engine()
    assert got == {"language": "fr"}  # the ANSWER's reply was not taken for the GET VARIABLE's


async def test_a_hangup_in_the_answer_reply_stops_the_next_channel_command(make_server):
    outcome = {}

    async def handler(ch):
        ch.answer_ahead()
        try:
            await ch.stream_file("welcome")
        except AgiHangup:
            outcome["hung_up"] = ch.hung_up

    server = await make_server(handler)
    peer = await Peer.connect(server)
    assert (await peer.command()).raw == "ANSWER"
    peer.send(encode_reply(200, -1))
    assert await peer.closed_by_engine()  # STREAM FILE never sent: the socket closes with nothing more
    assert outcome == {"hung_up": True}


def test_a_burst_of_calls_waits_in_the_accept_queue_not_for_a_syn_retransmit():
    """500 calls reach the FastAGI port at once while the engine is busy (its loop not running, so
    nothing is accepted): each connection completes in the kernel's accept queue. With asyncio's
    default backlog (100) the rest of the burst's SYNs were dropped, and those calls waited a SYN
    retransmit (1 s) for their session (the 2,000-call benchmark ran at a tenth of its speed)."""
    import select
    import socket

    async def handler(ch):
        return None

    loop = asyncio.new_event_loop()
    server = FastAgiServer(handler, port=0, max_sessions=1000)
    loop.run_until_complete(server.start())
    socks: list[socket.socket] = []
    try:
        poller = select.poll()
        for _ in range(500):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", server.port))
            socks.append(s)
            poller.register(s, select.POLLOUT)
        connected: set[int] = set()
        for _ in range(40):  # up to 0.8 s: a dropped SYN is sent again only after 1 s
            connected |= {fd for fd, ev in poller.poll(20) if ev & select.POLLOUT and not ev & (select.POLLERR | select.POLLHUP)}
            if len(connected) == len(socks):
                break
        assert len(connected) == 500
    finally:
        for s in socks:
            s.close()
        loop.run_until_complete(server.stop())
        loop.close()
