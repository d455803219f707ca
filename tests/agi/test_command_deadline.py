"""The FastAGI command time limit (acd.agi.deadline: one lazily re-armed timer per session) on
virtual time: each command gets its own limit whatever came before, and a cancel from outside is
never taken for a timeout, even one that lands at the deadline's very instant."""

from __future__ import annotations

import asyncio

import pytest

from acd.agi import AgiTimeout
from tests.agi.test_server import Peer, make_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.virtual_time


@pytest.mark.parametrize("first,second", [(30.0, 5.0), (1.0, 10.0)], ids=["short-after-long", "long-after-short"])
async def test_each_command_times_out_at_its_own_limit_whatever_came_before(make_server, first, second):  # noqa: F811
    """The first command is answered at once, leaving the session's timer armed for its limit:
    a shorter second limit re-arms it earlier; a longer one is found when the timer fires."""
    box: dict[str, object] = {}

    async def handler(ch):
        loop = asyncio.get_running_loop()
        await ch.command("NOOP", timeout=first)
        start = loop.time()
        try:
            await ch.command("NOOP", timeout=second)  # never answered
        except AgiTimeout:
            box["after"] = loop.time() - start

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    peer.send(b"200 result=0\n")
    await peer.command()
    assert await peer.closed_by_engine(timeout=60)
    assert second <= box["after"] < second + 0.5


async def test_a_cancel_from_outside_at_the_deadline_is_a_cancel_not_a_timeout(make_server):  # noqa: F811
    box: dict[str, object] = {}

    async def handler(ch):
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        loop.call_at(loop.time() + 2.0, task.cancel)  # the stop's cancel, at the deadline's instant
        try:
            await ch.command("NOOP", timeout=2.0)
        except BaseException as exc:  # noqa: BLE001 - what reached the caller is the point
            box["raised"] = type(exc).__name__
            box["cancelling"] = task.cancelling()
            raise

    server = await make_server(handler)
    peer = await Peer.connect(server)
    await peer.command()
    assert await peer.closed_by_engine(timeout=60)
    assert box["raised"] == "CancelledError" and box["cancelling"] >= 1
