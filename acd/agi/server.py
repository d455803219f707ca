"""FastAGI server: one named task per connection, a time limit on the environment block and on
every command, a limit on concurrent sessions, and the socket always closed by us at the end
(Asterisk never closes a FastAGI socket, not even after the caller hung up).

``handler`` is ``async def handler(channel: AgiChannel) -> None``, or a mapping from the request
path (``agi_network_script``: "ivr" for ``agi://engine:4573/ivr``) to such handlers. When the
handler returns or raises, the session ends and the socket is closed; Asterisk then goes on with
the next dialplan priority.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from acd.agi.channel import AgiChannel
from acd.agi.codec import MAX_ENV_BYTES, MAX_ENV_LINES, AgiEngineDecoder, AgiEnvironment, Hangup, Reply
from acd.agi.errors import AgiError, AgiHangup, AgiLimitError, AgiProtocolError
from acd.logs import bind_call, get_logger

log = get_logger(__name__)

Handler = Callable[[AgiChannel], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
READ_SIZE = 65536


def parse_peers(peers: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``, ``::1``); ``ValueError`` names a bad one."""
    out = []
    for peer in peers:
        try:
            out.append(ipaddress.ip_network(peer.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{peer!r} is not an IP address or network") from None
    return tuple(out)


def _peer_ip(peername: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = peername[0] if isinstance(peername, tuple) and peername else None
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:10.0.0.5 on a dual-stack socket is 10.0.0.5
    return ip


class FastAgiServer:
    def __init__(
        self,
        handler: Handler | Mapping[str, Handler],
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        max_sessions: int = 2000,
        env_timeout: float = 5.0,
        command_timeout: float = 30.0,
        on_command: Callable[[str, float], None] | None = None,
        on_reject: Callable[[], None] | None = None,
        allow_peers: Iterable[str] = (),
        max_env_lines: int = MAX_ENV_LINES,
        max_env_bytes: int = MAX_ENV_BYTES,
    ) -> None:
        """``allow_peers``: when not empty, only these addresses or networks may open a session
        (others are closed at once, logged). ``max_env_lines``/``max_env_bytes`` cap the
        environment block; a peer going over is refused and closed."""
        self._handler = handler
        self.allow_peers = parse_peers(allow_peers)
        self.max_env_lines = max_env_lines
        self.max_env_bytes = max_env_bytes
        self.host = host
        self._requested_port = port
        self.max_sessions = max_sessions
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self._on_command = on_command
        self._on_reject = on_reject
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        # counters (the metrics layer reads them or hooks on_command/on_reject)
        self.sessions_total = 0  # sessions whose environment block arrived
        self.rejected_total = 0  # connections refused at the session limit
        self.refused_peer_total = 0  # connections from an address not in allow_peers
        self.refused_limit_total = 0  # sessions refused for an environment block over the caps
        self.env_bytes_read_max = 0  # most bytes read from one peer before its block ended or was refused
        self.failed_total = 0  # sessions that ended on a protocol error, timeout or crash
        self.unknown_script_total = 0
        self.commands_total = 0
        self.command_seconds_sum = 0.0

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        port: int = self._server.sockets[0].getsockname()[1]  # an (host, port, ...) tuple; untyped in typeshed
        return port

    @property
    def active_sessions(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        # the accept queue holds a burst of calls (Asterisk back after a restart, a campaign): with
        # asyncio's default of 100 the kernel drops the rest of a burst's SYNs and those callers
        # wait a SYN retransmit (1 s) before their session starts
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port,
                                                  backlog=max(100, min(self.max_sessions, 4096)))
        log.event("agi.server.listening", host=self.host, port=self.port, max_sessions=self.max_sessions)

    async def stop(self, grace: float = 0.0) -> None:
        """Stop listening and end every session (after ``grace`` seconds for them to finish on
        their own). Each session's socket is closed, so Asterisk continues in the dialplan."""
        if self._server is not None:
            self._server.close()
        if self._tasks and grace > 0:
            await asyncio.wait(list(self._tasks), timeout=grace)
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        log.event("agi.server.stopped", sessions_ended=len(pending))

    # ------------------------------------------------------------------ per connection
    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.allow_peers and not self._peer_allowed(writer.get_extra_info("peername")):
            self.refused_peer_total += 1
            log.warn_event("agi.session.refused", reason="peer not in pbx.agi.allow_peers",
                           peer=str(writer.get_extra_info("peername")), refused_total=self.refused_peer_total)
            writer.close()
            return
        if len(self._tasks) >= self.max_sessions:
            self._reject(writer)
            return
        task = asyncio.create_task(self._session(reader, writer), name=f"agi-session-{next(self._ids)}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _peer_allowed(self, peername: object) -> bool:
        ip = _peer_ip(peername)
        return ip is not None and any(ip in net for net in self.allow_peers)

    def _reject(self, writer: asyncio.StreamWriter) -> None:
        """At the limit: close at once. Asterisk's AGI() then fails and the dialplan goes on to
        acd-fallback, so the caller is never left in silence."""
        self.rejected_total += 1
        log.warn_event("agi.session.rejected", reason="session limit reached", limit=self.max_sessions,
                       active=len(self._tasks), rejected_total=self.rejected_total,
                       peer=str(writer.get_extra_info("peername")))
        if self._on_reject:
            self._on_reject()
        writer.close()

    async def _read_environment(self, reader: asyncio.StreamReader, decoder: AgiEngineDecoder) -> tuple[AgiEnvironment, list[AgiEnvironment | Reply | Hangup]]:
        read = 0
        while True:
            data = await reader.read(READ_SIZE)
            read += len(data)
            self.env_bytes_read_max = max(self.env_bytes_read_max, read)
            if not data:
                raise AgiProtocolError("peer closed before the end of the environment block")
            frames = decoder.feed(data)
            if frames:
                env = frames[0]
                if not isinstance(env, AgiEnvironment):  # cannot happen: the decoder reads the block first
                    raise AgiProtocolError("expected the environment block")
                return env, frames[1:]

    def _pick_handler(self, env: AgiEnvironment) -> Handler | None:
        if callable(self._handler):
            return self._handler
        script = env.network_script.split("?", 1)[0].strip("/")
        return self._handler.get(script)

    def _count_command(self, name: str, seconds: float) -> None:
        self.commands_total += 1
        self.command_seconds_sum += seconds
        if self._on_command:
            self._on_command(name, seconds)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername"))
        decoder = AgiEngineDecoder(max_env_lines=self.max_env_lines, max_env_bytes=self.max_env_bytes)
        try:
            try:
                async with asyncio.timeout(self.env_timeout):
                    env, early = await self._read_environment(reader, decoder)
            except TimeoutError:
                self.failed_total += 1
                log.warn_event("agi.session.env_timeout", peer=peer, timeout_s=self.env_timeout)
                return
            except AgiLimitError as exc:
                self.failed_total += 1
                self.refused_limit_total += 1
                log.warn_event("agi.session.refused", reason=str(exc), peer=peer, refused_total=self.refused_limit_total)
                return
            except (AgiProtocolError, ConnectionError, OSError) as exc:
                self.failed_total += 1
                log.warn_event("agi.session.bad_start", peer=peer, error=str(exc))
                return
            self.sessions_total += 1
            with bind_call(env.uniqueid or None):
                await self._run(env, early, reader, writer, decoder, peer)
        finally:
            writer.close()  # always ours to close

    async def _run(self, env: AgiEnvironment, early: list[AgiEnvironment | Reply | Hangup], reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   decoder: AgiEngineDecoder, peer: str) -> None:
        channel = AgiChannel(env, reader, writer, decoder, command_timeout=self.command_timeout, on_command=self._count_command)
        started = time.monotonic()
        outcome = "completed"
        log.event("agi.session.start", channel=env.channel, script=env.network_script, caller=env.callerid,
                  dnis=env.dnis, peer=peer)
        try:
            channel.take_early_frames(early)
            handler = self._pick_handler(env)
            if handler is None:
                outcome = "unknown_script"
                self.unknown_script_total += 1
                log.warn_event("agi.session.unknown_script", script=env.network_script, request=env.request)
                return
            await handler(channel)
        except AgiHangup:
            outcome = "caller_gone"
        except AgiError as exc:
            outcome = "failed"
            self.failed_total += 1
            log.warn_event("agi.session.failed", channel=env.channel, error=str(exc), error_type=type(exc).__name__)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            outcome = "crashed"
            self.failed_total += 1
            log.error_event("agi.session.handler_crashed", channel=env.channel, error=repr(exc))
        finally:
            channel.close()
            log.event("agi.session.end", channel=env.channel, outcome=outcome, hung_up=channel.hung_up,
                      duration_s=round(time.monotonic() - started, 3))
