"""Engine CPU seconds per call: a full IVR + queue + connect on the simulated PBX.

Each call runs the demo line's flow (``ivr_flows/demo_line.yaml``): the welcome prompt, the
caller looked up by caller id in the customer store, (a known caller) a PIN checked against the
stored scrypt hash, the menu, the queue, an agent rung, answered and connected, a short talk,
the hang-up, the record written to SQLite through the spool. CPU is the process's
(``time.process_time``: every thread, SQLite's and the scrypt check's included) over the calls,
divided by the calls. The simulated PBX runs in the same process, so the figure includes its
share: an upper bound for the engine's.
"""

from __future__ import annotations

import asyncio
import time

from acd.secrets import Secret
from acd.sim import CallerScript
from bench import enginerun
from bench.common import Row

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 10, wrapup_s: 0, moh_slice_s: 5, announce_position: false, announce_ewt: false}
  - {name: support, skills: {support: 2}, ring_timeout_s: 10, wrapup_s: 0, moh_slice_s: 5, announce_position: false, announce_ewt: false}
  - {name: sales, skills: {sales: 1}, ring_timeout_s: 10, wrapup_s: 0, moh_slice_s: 5, announce_position: false, announce_ewt: false}
  - {name: security, skills: {security: 2}, ring_timeout_s: 10, wrapup_s: 0, moh_slice_s: 5, announce_position: false, announce_ewt: false}
"""
PIN = "918273"


async def measure(calls: int, concurrent: int, known: bool) -> tuple[float, int]:
    """(CPU seconds for the calls, calls connected). ``known``: callers on the record with a PIN,
    which they type; else unknown numbers, straight to the menu."""
    async with enginerun.engine(agents=concurrent, queues_yaml=QUEUES, flows_dir=enginerun.ROOT / "ivr_flows", default_flow="demo_line",
                                answer_after_s=0.1, talk_s=0.2, sound_s=0.2) as eng:
        numbers = [f"+4477009{i:05d}" for i in range(calls)]
        if known:
            for i, number in enumerate(numbers):
                cid = await eng.customers.create_customer(name=f"Customer {i}", phones=[number], by="bench")
                await eng.customers.set_secret(cid, "pin", Secret(PIN), by="bench")
        await eng.records.drain()
        connected = 0
        cpu0 = time.process_time()
        for start in range(0, calls, concurrent):
            handles = [await eng.pbx.place_call(CallerScript(caller_id=n, dnis="5551234", keys=f",{PIN}#,2" if known else ",2",
                                                             hangup_after_bridge_s=0.2))
                       for n in numbers[start:start + concurrent]]
            outcomes = await asyncio.gather(*(h.finished(60) for h in handles))
            connected += sum(1 for o in outcomes if o.connected)
        await eng.records.drain()  # the records are in the database: their cost counts too
        cpu = time.process_time() - cpu0
    return cpu, connected


def run(smoke: bool) -> list[Row]:
    calls, concurrent = (4, 2) if smoke else (40, 10)
    rows = []
    for known, what in ((True, "known caller, PIN checked (scrypt)"), (False, "unknown caller, menu only")):
        cpu, connected = asyncio.run(measure(calls, concurrent, known))
        rows.append(Row("engine CPU", f"demo line IVR ({what}) + queue + connect, {calls} calls, {concurrent} at a time, simulated PBX", {
            "calls connected": connected, "CPU ms per call": cpu / calls * 1000,
        }))
    return rows
