"""The http step against a real local aiohttp server: data mapped to variables, retries, and the
caller never left in silence when the server fails or is down."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from acd.flows.httpport import AiohttpPort
from acd.flows.ports_extra import HttpPortError, HttpRequest

from .conftest import Harness


class Api:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_first = 0
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append({"method": request.method, "path": request.raw_path, "headers": dict(request.headers), "body": body})
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.json_response({"error": "busy"}, status=503)
        if self.delay:
            await asyncio.sleep(self.delay)
        name = request.match_info["name"]
        if name == "broken":
            return web.json_response({"error": "boom"}, status=500)
        if name == "notjson":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if name == "missing":
            return web.Response(status=404)
        return web.json_response({"data": {"balance": 1234.56, "items": [{"amount": 10}, {"amount": 20}]}, "echo": body})


@pytest.fixture
async def api():
    state = Api()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}/{name}", state.handle)
    app.router.add_route("*", "/{name}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    state.base = f"http://127.0.0.1:{port}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def port():
    p = AiohttpPort()
    yield p
    await p.close()


def http_flow(http_spec: str, head: str = "") -> str:
    return f"""
flow: t
{head}
steps:
  fetch:
    http: {http_spec}
    next: say
    on_error: sorry
  say:
    play: "balance-is {{{{ balance | currency }}}}"
    next: bye
  sorry:
    play: sorry-no-data
    next: bye
  bye:
    hangup: true
"""


async def test_get_with_templated_url_query_headers_and_saved_fields(api, port):
    h = Harness(http=port)
    h.add_customer("c1", account="12/34 56")
    spec = ("{url: '{{ base }}/accounts/{{ customer.account_number }}/balance', query: {caller: '{{ call.caller }}'}, "
            "headers: {X-Call: '{{ call.id }}'}, save: {balance: data.balance, second: 'data.items[1].amount', everything: $}}")
    result = await h.run(http_flow(spec, head=f"variables: {{base: '{api.base}'}}").replace(
        "  fetch:", "  who:\n    lookup_caller: true\n    next: fetch\n  fetch:"))
    assert not result.failed
    req = api.requests[0]
    assert req["path"] == "/accounts/12%2F34%2056/balance?caller=%2B441234567890"  # data cannot change the path
    assert req["headers"]["X-Call"] == "call-1"
    assert ("fetch", "ok") in h.steps()
    assert [str(e) for e in h.channel.events][:3] == ["play balance-is", "say_number 1234", "play dollars"]
    data = h.step_data("fetch")["inputs"]
    assert data["status"] == 200 and data["saved"] == ["balance", "everything", "second"]


async def test_post_json_body_keeps_types(api, port):
    h = Harness(http=port)
    spec = "{method: POST, url: '{{ base }}/echo', json: {amount: '{{ n * 2 }}', note: 'n={{ n }}', tags: [a, '{{ n }}']}, save: {balance: data.balance, echo: echo}}"
    await h.run(http_flow(spec, head=f"variables: {{base: '{api.base}', n: 21}}"))
    assert json.loads(api.requests[0]["body"]) == {"amount": 42, "note": "n=21", "tags": ["a", 21]}
    assert api.requests[0]["method"] == "POST"


async def test_5xx_is_retried_then_succeeds(api, port):
    api.fail_first = 1
    h = Harness(http=port)
    await h.run(http_flow(f"{{url: '{api.base}/balance', retries: 2, retry_delay_s: 0, save: {{balance: data.balance}}}}"))
    assert ("fetch", "ok") in h.steps() and len(api.requests) == 2
    assert h.step_data("fetch")["inputs"]["attempts"] == 2


@pytest.mark.parametrize("name, problem", [
    ("broken", "HTTP 500"),
    ("missing", "HTTP 404"),
    ("notjson", "the response is not JSON"),
    ("fine", "no data.nothing in the response"),
])
async def test_error_outcome_goes_to_on_error(api, port, name, problem):
    h = Harness(http=port)
    save = "data.nothing" if name == "fine" else "data.balance"
    await h.run(http_flow(f"{{url: '{api.base}/{name}', retries: 1, retry_delay_s: 0, save: {{balance: {save}}}}}"))
    assert ("fetch", "error") in h.steps()
    assert h.step_data("fetch")["inputs"]["error"] == problem
    assert h.channel.played() == ["sorry-no-data"]
    assert len(api.requests) == (2 if name == "broken" else 1)  # only 5xx is retried


async def test_server_500_without_on_error_falls_back_to_apology_and_queue(api, port):
    h = Harness(http=port)
    result = await h.run(f"""
flow: t
steps:
  fetch:
    http: {{url: '{api.base}/broken', retries: 0, wait_prompt: one-moment}}
    next: bye
  bye:
    hangup: true
""")
    assert result.failed and result.outcome == "fallback:answered"
    assert h.channel.played() == ["one-moment", "an-error-has-occurred"]
    assert h.queue.requests[0][1].queue == "fallback"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_refused_falls_back(port):
    h = Harness(http=port)
    dead = _free_port()
    result = await h.run(f"""
flow: t
steps:
  fetch:
    http: {{url: 'http://127.0.0.1:{dead}/balance', retries: 1, retry_delay_s: 0}}
    next: bye
  bye:
    hangup: true
""")
    assert result.failed and result.outcome == "fallback:answered"
    data = h.step_data("fetch")
    assert data["outcome"] == "error" and data["inputs"]["attempts"] == 2
    assert "ClientConnectorError" in data["inputs"]["error"] or "Connect" in data["inputs"]["error"]


async def test_timeout_is_an_error(api, port):
    api.delay = 2.0
    h = Harness(http=port)
    await h.run(http_flow(f"{{url: '{api.base}/slow', timeout_s: 0.2, retries: 0, status_into: code, save: {{balance: data.balance}}}}"))
    assert ("fetch", "error") in h.steps()
    assert "no response within 0.2 s" in h.step_data("fetch")["inputs"]["error"]


async def test_port_raises_typed_error(port):
    with pytest.raises(HttpPortError):
        await port.request(HttpRequest("GET", f"http://127.0.0.1:{_free_port()}/", timeout_s=1))
