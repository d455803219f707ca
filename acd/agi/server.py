"""FastAGI server: one named task per connection, a time limit on the environment block and on
every command, a limit on concurrent sessions, and the socket always closed by us at the end."""

from __future__ import annotations

import asyncio
import itertools
from typing import Awaitable, Callable, Mapping

from acd.agi.channel import AgiChannel
from acd.agi.codec import AgiEngineDecoder, AgiEnvironment
from acd.agi.errors import AgiError, AgiHangup, AgiProtocolError
from acd.logs import bind_call, get_logger

log = get_logger(__name__)

Handler = Callable[[AgiChannel], Awaitable[None]]


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
    ) -> None:
        self._handler = handler
        self.host = host
        self._requested_port = port
        self.max_sessions = max_sessions
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self._on_command = on_command
        self._on_reject = on_reject
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ids = itertools.count(1)
        self.sessions_total = 0
        self.rejected_total = 0
        self.failed_total = 0

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return self._server.sockets[0].getsockname()[1]

    @property
    def active_sessions(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)
        log.event("agi.server.listening", host=self.host, port=self.port, max_sessions=self.max_sessions)

    async def stop(self, grace: float = 2.0) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            done, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self.max_sessions:
            self.rejected_total += 1
            log.warn_event("agi.session.rejected", reason="session limit reached", limit=self.max_sessions)
            if self._on_reject:
                self._on_reject()
            writer.close()  # Asterisk then continues in dialplan (acd-fallback): no silence
            return
        task = asyncio.create_task(self._session(reader, writer), name=f"agi-session-{next(self._ids)}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_environment(self, reader: asyncio.StreamReader, decoder: AgiEngineDecoder) -> tuple[AgiEnvironment, list]:
        while True:
            data = await reader.read(65536)
            if not data:
                raise AgiProtocolError("peer closed before the end of the environment block")
            frames = decoder.feed(data)
            if frames:
                env = frames[0]
                if not isinstance(env, AgiEnvironment):
                    raise AgiProtocolError("expected the environment block")
                return env, frames[1:]

    def _pick_handler(self, env: AgiEnvironment) -> Handler | None:
        if callable(self._handler):
            return self._handler
        script = env.network_script.split("?", 1)[0].strip("/")
        return self._handler.get(script)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        decoder = AgiEngineDecoder()
        try:
            env, early = await asyncio.wait_for(self._read_environment(reader, decoder), self.env_timeout)
        except asyncio.TimeoutError:
            self.failed_total += 1
            log.warn_event("agi.session.env_timeout", peer=str(peer), timeout_s=self.env_timeout)
            writer.close()
            return
        except (AgiProtocolError, ConnectionError, OSError) as exc:
            self.failed_total += 1
            log.warn_event("agi.session.bad_start", peer=str(peer), error=str(exc))
            writer.close()
            return
        self.sessions_total += 1
        channel = AgiChannel(env, reader, writer, decoder, command_timeout=self.command_timeout, on_command=self._on_command)
        channel._frames.extend(early)
        handler = self._pick_handler(env)
        with bind_call(env.uniqueid):
            log.event("agi.session.start", channel=env.channel, script=env.network_script, caller=env.callerid, dnis=env.dnis)
            try:
                if handler is None:
                    log.warn_event("agi.session.unknown_script", script=env.network_script)
                else:
                    await handler(channel)
            except AgiHangup:
                log.event("agi.session.caller_gone", channel=env.channel)
            except AgiError as exc:
                self.failed_total += 1
                log.warn_event("agi.session.failed", channel=env.channel, error=str(exc), error_type=type(exc).__name__)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failed_total += 1
                log.error_event("agi.session.handler_crashed", channel=env.channel, error=repr(exc))
            finally:
                channel.close()
                log.event("agi.session.end", channel=env.channel, hung_up=channel.hung_up)
