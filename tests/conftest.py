import asyncio
import gc
import io
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from acd.app import run_engine
from acd.settings import load_settings
from acd.vtime import VirtualTimeLoop, running_virtual_clock


def pytest_asyncio_loop_factories(config, item):
    """Tests marked ``virtual_time`` (or in a module with ``pytestmark = pytest.mark.virtual_time``)
    run on ``acd.vtime.VirtualTimeLoop``: every sleep and timeout of the engine, the simulated PBX
    and the test itself is virtual, and idle time is skipped. Others get the ordinary loop."""
    if item.get_closest_marker("virtual_time") is not None:
        return {"virtual_time": VirtualTimeLoop}
    return {"asyncio": asyncio.new_event_loop}


HANG_DUMP_S = 100.0  # before pytest-timeout's 120 s: what every pending task awaits goes to the report


def _dump_pending_tasks(nodeid: str) -> None:
    """Print the stack of every unfinished asyncio task (read from another thread: a diagnostic,
    racy by nature) so a test that hangs says where, not only that the loop sat in ``select``."""
    out = io.StringIO()
    print(f"\n=== {nodeid}: still running after {HANG_DUMP_S:.0f} s; pending asyncio tasks ===", file=out)
    try:
        for obj in gc.get_objects():
            if isinstance(obj, asyncio.Task) and not obj.done():
                print(f"--- task {obj.get_name()}", file=out)
                obj.print_stack(limit=12, file=out)
    except Exception as exc:  # noqa: BLE001 - a diagnostic must not fail the run
        print(f"(dump stopped: {exc!r})", file=out)
    sys.stderr.write(out.getvalue())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    timer = threading.Timer(HANG_DUMP_S, _dump_pending_tasks, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()

QUEUES = """
queues:
  - name: general
    skills: {general: 1}
    ring_timeout_s: 1.0
    wrapup_s: 0.3
    moh_slice_s: 2
    announce_position: false
    service_level_s: 20
"""

# What tests on virtual time get by default: a contact centre's real settings (time costs nothing).
REALISTIC_QUEUES = """
queues:
  - name: general
    skills: {general: 1}
    ring_timeout_s: 20
    wrapup_s: 30
    moh_slice_s: 20
    announce_position: false
    service_level_s: 20
"""


def agents_yaml(n):
    rows = "\n".join(f"  - {{id: agent{i}, name: Agent {i}, endpoint: PJSIP/agent{i}, skills: {{general: {6 - i if i < 6 else 1}}}, auto_ready: true}}" for i in range(1, n + 1))
    return "agents:\n" + rows + "\n"


@pytest.fixture
async def make_engine(tmp_path):
    stacks = []

    async def make(n_agents=2, queues=None, engine_yaml="", agents=None, http_yaml=""):
        clock = running_virtual_clock()  # on a virtual_time test: engine and PBX on the loop's clock
        if queues is None:
            queues = QUEUES if clock is None else REALISTIC_QUEUES
        (tmp_path / "queues.yaml").write_text(textwrap.dedent(queues))
        (tmp_path / "desk.yaml").write_text((Path(__file__).resolve().parents[1] / "config" / "desk.yaml").read_text())
        (tmp_path / "agents.yaml").write_text(textwrap.dedent(agents) if agents else agents_yaml(n_agents))
        (tmp_path / "engine.yaml").write_text(
            "http:\n  port: 0\n" + textwrap.indent(textwrap.dedent(http_yaml), "  ") + "pbx:\n  mode: sim\n"
            f"database:\n  url: sqlite+aiosqlite:///{tmp_path}/acd.sqlite3\n  spool_dir: {tmp_path}/spool\n"
            + ("" if "flows:" in engine_yaml else "flows:\n  directory: ''\n")
            + textwrap.dedent(engine_yaml))
        settings = load_settings(tmp_path, environ={})
        cm = run_engine(settings, clock=clock)
        engine = await cm.__aenter__()
        stacks.append(cm)
        if clock is None:  # wall-clock tests keep prompts short; virtual time plays them at length
            engine.pbx.sound_seconds = lambda name: 0.2
            engine.acd.rona_recover_s = 60
        return engine

    yield make
    for cm in reversed(stacks):
        await cm.__aexit__(None, None, None)


async def wait_until(pred, timeout=10.0, step=0.05):
    """Poll ``pred`` every ``step`` seconds for up to ``timeout`` seconds of the loop's time: on a
    virtual_time test both are virtual (polling costs no wall time, only a wake-up per step)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if pred():
            return True
        if loop.time() >= deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
