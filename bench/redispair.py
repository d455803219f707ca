"""A Redis master and its replica, two redis-server processes of their own on free ports (the
machine's shared server is never made a master): for ``live_state.wait_replicas`` in
``bench/eventlog.py`` and ``tests/eventlog/test_replica_wait.py``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
from types import TracebackType

import redis.asyncio as aioredis

from acd.eventlog.redisconn import connect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MasterAndReplica:
    def __init__(self) -> None:
        self.master_port, self.replica_port = _free_port(), _free_port()
        self.master_url = f"redis://127.0.0.1:{self.master_port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="acd-redispair-")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.master: aioredis.Redis | None = None
        self.replica: aioredis.Redis | None = None

    async def __aenter__(self) -> MasterAndReplica:
        for port, extra in ((self.master_port, []), (self.replica_port, ["--replicaof", "127.0.0.1", str(self.master_port)])):
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self._dir.name, "--dbfilename", f"r{port}.rdb", "--repl-diskless-sync-delay", "0", *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.master = connect(self.master_url)
        self.replica = connect(f"redis://127.0.0.1:{self.replica_port}/0")
        for _ in range(400):  # the replica's first sync: a bounded wait on its state, not a timing bet
            if await self.linked():
                return self
            await asyncio.sleep(0.05)
        await self.close()
        raise RuntimeError("the Redis replica did not link to its master within 20 s")

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def linked(self) -> bool:
        assert self.replica is not None
        try:
            info = await self.replica.info("replication")
        except (OSError, aioredis.ConnectionError, aioredis.TimeoutError):
            return False
        return info.get("master_link_status") == "up"

    def pause_replica(self) -> None:
        os.kill(self.procs[1].pid, signal.SIGSTOP)

    def resume_replica(self) -> None:
        os.kill(self.procs[1].pid, signal.SIGCONT)

    async def close(self) -> None:
        if len(self.procs) > 1:
            self.resume_replica()
        for client in (self.master, self.replica):
            if client is not None:
                await client.aclose()
        for proc in self.procs:
            proc.kill()
            proc.wait(10)
        self.procs.clear()
        self._dir.cleanup()
