"""Driving the pages from async tests: Selenium is blocking, so every browser call runs in a
thread and the engine's event loop keeps serving the page meanwhile."""

from __future__ import annotations

import asyncio

from selenium.webdriver.common.by import By


async def until(fn, timeout=15.0):
    """Poll the page until ``fn`` returns something true; fail with the last value or error seen."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    last = None
    while loop.time() < end:
        try:
            last = await asyncio.to_thread(fn)
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - the element is not there yet
            last = exc
        await asyncio.sleep(0.1)
    raise AssertionError(f"page condition not met: {last!r}")


def text(browser, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text


async def run(fn, *args):
    """One blocking Selenium call, off the event loop."""
    return await asyncio.to_thread(fn, *args)


async def sign_in(browser, base: str, page: str, token: str) -> None:
    await run(browser.get, f"{base}/{page}")
    await run(lambda: browser.find_element(By.ID, "token").send_keys(token))
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "#signin-form button").click())


async def drop_streams(engine) -> None:
    """Cut every open event stream server-side (as a proxy or a network blip would) and wait
    until the engine has let go of them."""
    from acd.http.api import STREAMS

    for task in list(engine.http_app[STREAMS]):
        task.cancel()
    await until(lambda: engine.bus.subscribers == 0, 5)
