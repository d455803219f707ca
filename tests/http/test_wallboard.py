"""GET /api/v1/wallboard over a running engine: who may read it (supervisors and kiosk tokens;
a kiosk token reads nothing else), today's figures from the store (a restart's empty in-memory
counters change nothing), the configured time zone, the colour thresholds, every agent state."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from acd.http.api import ROUTES
from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from acd.telemetry import Telemetry
from tests.conftest import QUEUES, wait_until
from tests.http.conftest import Api, users_yaml


async def test_supervisors_and_kiosk_tokens_read_the_wallboard_agents_do_not(api):
    assert (await api.call("GET", "/api/v1/wallboard"))[0] == 401
    assert (await api.call("GET", "/api/v1/wallboard", "agent1"))[0] == 403
    for who in ("sup", "admin", "kiosk"):
        status, body = await api.call("GET", "/api/v1/wallboard", who)
        assert status == 200, (who, body)
        assert [q["queue"] for q in body["queues"]] == ["general"]


async def test_a_kiosk_token_reads_the_wallboard_and_nothing_else(api):
    refused = []
    for r in ROUTES:
        if r.path == "/api/v1/wallboard" or r.rule in ("public", "webhook_token"):
            continue
        path = re.sub(r"\{[^}]+\}", "x1", r.path.replace("{agent_id}", "agent1"))
        status, _ = await api.call(r.method, path, "kiosk", json={} if r.method in ("POST", "PUT", "PATCH") else None)
        refused.append((r.method, r.path, status))
    assert refused and all(status == 403 for _, _, status in refused), [x for x in refused if x[2] != 403]
    status, body = await api.call("GET", "/api/v1/me", "kiosk")
    assert status == 403  # not even "who am I": the screen's token is good for one thing
    async with api.session.get(f"{api.base}/api/v1/events?access_token=wall.t-kiosk", timeout=aiohttp.ClientTimeout(total=10)) as r:
        assert r.status == 403  # ... and no event stream (customer and call details flow there)


async def test_every_agent_state_is_counted_even_at_zero(api):
    api.engine.acd.set_not_ready("agent2", "break")
    status, body = await api.call("GET", "/api/v1/wallboard", "kiosk")
    assert body["agent_states"] == {"ready": 1, "reserved": 0, "ringing": 0, "on_call": 0, "wrap_up": 0, "not_ready": 1, "logged_out": 0}
    [q] = body["queues"]
    assert q["agents"] == {"staffed": 2, "available": 1, "on_call": 0}
    assert {a["agent_id"]: a["state"] for a in body["agents"]} == {"agent1": "ready", "agent2": "not_ready"}


async def test_a_quiet_day_has_zero_counts_and_no_ratios(api):
    status, body = await api.call("GET", "/api/v1/wallboard", "sup")
    [q] = body["queues"]
    assert body["day_figures"] == "store"
    assert (q["offered"], q["answered"], q["abandoned"]) == (0, 0, 0)
    assert (q["service_level"], q["abandon_rate"], q["asa_s"], q["aht_s"], q["sl_colour"]) == (None,) * 5
    assert (q["service_level_s"], q["sl_green"], q["sl_amber"]) == (20.0, 0.8, 0.6)


async def test_day_figures_come_from_the_store_and_survive_lost_counters(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=0.5)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900401"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    status, body = await api.call("GET", "/api/v1/wallboard", "sup")
    assert body["queues"][0]["agents"]["on_call"] == 1
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.READY and engine.core.agents["agent1"].calls_handled == 1, 15)
    await engine.records.drain()
    in_memory = engine.acd.live()["queues"]["general"]  # Prometheus' today figures, same kpi formulas
    engine.acd.telemetry = Telemetry()  # what a restart leaves of the in-memory "today" counters

    async def answered() -> dict:
        _, body = await api.call("GET", "/api/v1/wallboard", "sup")
        return body["queues"][0]

    q = await answered()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not (q["answered"] == 1 and q["aht_s"] is not None) and loop.time() < deadline:  # cached up to 5 s
        await asyncio.sleep(0.2)
        await engine.records.drain()
        q = await answered()
    assert (q["offered"], q["answered"], q["abandoned"]) == (1, 1, 0)
    assert q["service_level"] == 1.0 and q["sl_colour"] == "green"  # answered in about a second: within 20 s
    assert q["abandon_rate"] == 0.0 and q["asa_s"] < 20 and q["aht_s"] > 0
    assert (q["answered"], q["service_level"]) == (in_memory["answered"], in_memory["service_level"])
    assert q["asa_s"] == pytest.approx(in_memory["asa_s"], abs=0.5)


QUEUES_TZ = QUEUES.replace("service_level_s: 20", "service_level_s: 20\n    sl_green: 0.9\n    sl_amber: 0.7")


@pytest.fixture
async def api_tz(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2, queues=QUEUES_TZ, engine_yaml="engine:\n  time_zone: Pacific/Kiritimati\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)


async def test_today_starts_at_midnight_in_the_configured_zone_and_thresholds_come_from_the_queue(api_tz):
    status, body = await api_tz.call("GET", "/api/v1/wallboard", "kiosk")
    assert body["time_zone"] == "Pacific/Kiritimati"
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: its midnight is never UTC's
    start = dt.datetime.fromisoformat(body["day_start"])  # ISO 8601 with the zone's offset
    assert start.utcoffset() == dt.timedelta(hours=14) and start == start.astimezone(zone)
    assert (start.hour, start.minute, start.second) == (0, 0, 0)
    assert start.date() == dt.datetime.fromisoformat(body["now"]).date()
    assert (body["queues"][0]["sl_green"], body["queues"][0]["sl_amber"]) == (0.9, 0.7)


@pytest.mark.virtual_time  # the day's figures are cached 5 s: waited out on the loop's clock, not the wall's
async def test_day_figures_survive_a_real_restart(tmp_path):
    import textwrap

    from acd.app import run_engine
    from acd.settings import load_settings
    from acd.vtime import running_virtual_clock
    from tests.conftest import agents_yaml
    from tests.http.conftest import TOKENS

    (tmp_path / "queues.yaml").write_text(textwrap.dedent(QUEUES))
    (tmp_path / "agents.yaml").write_text(agents_yaml(1))
    (tmp_path / "users.yaml").write_text(users_yaml().replace("agent_id: agent2", "agent_id: agent1"))
    (tmp_path / "engine.yaml").write_text(
        f"http:\n  port: 0\npbx:\n  mode: sim\ndatabase:\n  url: sqlite+aiosqlite:///{tmp_path}/acd.sqlite3\n"
        f"  spool_dir: {tmp_path}/spool\nflows:\n  directory: ''\nengine:\n  time_zone: Europe/London\n")
    settings = load_settings(tmp_path, environ={})

    async def board(engine) -> dict:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{engine.http_port}/api/v1/wallboard",
                                                       headers={"Authorization": f"Bearer {TOKENS['kiosk']}"}) as r:
            assert r.status == 200
            return (await r.json())["queues"][0]

    async with run_engine(settings, clock=running_virtual_clock()) as engine:
        engine.pbx.sound_seconds = lambda name: 0.2
        engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.3)
        await engine.pbx.place_call(CallerScript(caller_id="+447700900409"))
        await wait_until(lambda: engine.core.agents["agent1"].calls_handled == 1
                         and engine.core.agents["agent1"].state == AgentState.READY, 15)
        await engine.records.drain()
        before = await board(engine)
        for _ in range(6):  # the day is cached up to 5 s (virtual seconds)
            if before["answered"] == 1:
                break
            await asyncio.sleep(1.0)
            before = await board(engine)
    assert before["answered"] == 1
    async with run_engine(settings, clock=running_virtual_clock()) as engine:  # a new process: nothing in memory
        assert engine.telemetry.queue_today("general").answered == 0
        after = await board(engine)
    assert (after["offered"], after["answered"], after["service_level"]) == (before["offered"], 1, before["service_level"])


async def test_a_kiosk_sees_the_overdue_tasks_without_their_titles_or_customers(api):
    engine = api.engine
    cid = await engine.customers.create_customer(name="Secret Person", by="test")
    now = engine.clock.now()
    made = []
    for due, owner in ((now - 3600, {"owner_queue": "general"}), (now - 60, {"owner_agent": "agent1"}), (now + 3600, {"owner_agent": "agent2"})):
        status, task = await api.call("POST", "/api/v1/tasks", "sup", json={"type": "callback", "due": due, "customer_id": cid,
                                                                           "title": "Ring Secret Person back", **owner})
        assert status == 201, task
        made.append(task["task_id"])
    status, body = await api.call("GET", "/api/v1/wallboard", "kiosk")
    assert status == 200
    overdue = body["overdue_tasks"]
    assert overdue["count"] == 2 and [t["task_id"] for t in overdue["tasks"]] == made[:2]  # most overdue first; not the future one
    first, second = overdue["tasks"]
    assert first["type"] == "callback" and first["queue"] == "general" and first["owner"] == {"kind": "queue", "id": "general"}
    assert second["queue"] is None and second["owner"] == {"kind": "agent", "id": "agent1"} and second["priority"] == "normal"
    assert "Secret" not in str(body) and cid not in str(body)  # no title, no customer on a wall screen


async def test_a_report_without_tz_is_today_in_the_engines_zone_as_the_wallboard_and_the_cli(api_tz, tmp_path, capsys):
    """The wallboard's "today" starts at midnight in engine.time_zone; a report asked for with no
    tz (API or `acd report`) covers that same day, not UTC's."""
    from acd.cli import main

    _, board = await api_tz.call("GET", "/api/v1/wallboard", "kiosk")
    status, body = await api_tz.call("GET", "/api/v1/reports", "sup")
    assert status == 200 and body["from"] == board["day_start"] and body["from"].endswith("+14:00")
    config = tmp_path / "cli-config"
    config.mkdir()
    (config / "engine.yaml").write_text("engine:\n  time_zone: Pacific/Kiritimati\n")
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    day = board["day_start"][:10]
    assert await asyncio.to_thread(main, ["db", "upgrade", "--database", url]) == 0
    assert await asyncio.to_thread(main, ["report", "--config", str(config), "--database", url, "--from", day]) == 0
    head = capsys.readouterr().out.splitlines()[-4]
    assert head.startswith(f"queue report {board['day_start']} to "), head
