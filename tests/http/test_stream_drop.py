import asyncio

import aiohttp
import pytest

from acd.http.api import STREAMS
from tests.conftest import wait_until
from tests.http.conftest import TOKENS
from tests.http.test_events import read_events


async def test_a_dropped_stream_resumes_where_it_left_off(api):
    engine = api.engine
    url = f"{api.base}/api/v1/events?access_token={TOKENS['sup']}"
    async with api.session.get(url) as r:
        await wait_until(lambda: engine.bus.subscribers == 1, 5)
        engine.acd.set_not_ready("agent1", "lunch")
        [(seq, _, _)] = await read_events(r, 1)
        for task in list(engine.http_app[STREAMS]):
            task.cancel()
        await wait_until(lambda: engine.bus.subscribers == 0, 5)
        with pytest.raises(aiohttp.ClientPayloadError):  # the connection dropped mid-stream
            await asyncio.wait_for(r.content.read(), 5)
    engine.acd.set_ready("agent1")
    async with api.session.get(url, headers={"Last-Event-ID": str(seq)}) as r:
        [(seq2, _, data)] = await read_events(r, 1)
    assert seq2 == seq + 1 and data["state"] == "ready"
