"""Attack (issue #13, item 4): stall sign-ins with a flood of unknown tokens.

One client (127.0.0.2) keeps 40 bad tokens in flight, each naming a real user so that each costs a
KDF, the worst case; meanwhile another client (127.0.0.1) signs in with a valid token never seen
before. The flood's KDFs are held open (a gate in the one place tokens are checked), so the valid
sign-in can only be answered if it did not queue behind them: no wall time is measured."""

from __future__ import annotations

import asyncio
import secrets
import threading

import aiohttp

from acd.http.api import SIGNIN, USERS
from tests.conftest import wait_until
from tests.http.conftest import TOKENS, users_yaml

FLOOD = 40
ATTACKER, OTHER = "127.0.0.2", "127.0.0.3"


async def _get_me(session: aiohttp.ClientSession, base: str, token: str) -> tuple[int, str | None]:
    async with session.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                           timeout=aiohttp.ClientTimeout(total=30)) as r:
        await r.read()
        return r.status, r.headers.get("Retry-After")


def _session(address: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0, force_close=True))


async def test_a_flood_of_bad_tokens_does_not_hold_up_a_valid_sign_in(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2)
    base = f"http://127.0.0.1:{engine.http_port}"
    users, guard = engine.http_app[USERS], engine.http_app[SIGNIN]
    gate = threading.Event()
    checked: list[str] = []  # whose token each KDF was for, in order
    real_authenticate = users.authenticate

    def gated_authenticate(token: str):
        checked.append("flood" if token.startswith("admin.") else "valid")
        if token.startswith("admin."):
            gate.wait(20)  # the flood's KDFs do not finish until the valid sign-in was answered
        return real_authenticate(token)

    users.authenticate = gated_authenticate
    try:
        async with _session(ATTACKER) as attacker, _session("127.0.0.1") as user, _session(OTHER) as other:
            flood = [asyncio.create_task(_get_me(attacker, base, f"admin.{secrets.token_urlsafe(16)}"), name=f"flood-{i}")
                     for i in range(FLOOD)]
            await wait_until(lambda: sum(t.done() for t in flood) == FLOOD - guard.max_waiting and guard.waiting(ATTACKER) == guard.max_waiting, 15)
            assert checked == ["flood"]  # one KDF for the whole flood, held at the gate
            refused = [t.result() for t in flood if t.done()]
            assert all(status == 429 and int(retry) >= 1 for status, retry in refused)

            status, _ = await asyncio.wait_for(_get_me(user, base, TOKENS["agent1"]), 15)
            assert status == 200 and not gate.is_set()  # answered while the flood's KDF was still running
            assert checked == ["flood", "valid"]  # it waited behind none of them

            # a token naming no user costs no KDF at all (before the fix: one KDF per user)
            before = guard.kdf_runs
            assert [(await _get_me(other, base, "no-dot-token-" + str(i)))[0] for i in range(5)] == [401] * 5
            assert guard.kdf_runs == before

            gate.set()
            assert [s for s, _ in await asyncio.gather(*(t for t in flood if not t.done()))] == [401] * guard.max_waiting

            # the attacker goes on: after max_failures refusals in the window, 429 with no KDF at all
            statuses = [await _get_me(attacker, base, f"admin.{secrets.token_urlsafe(16)}") for _ in range(guard.max_failures)]
            assert statuses[-1][0] == 429 and int(statuses[-1][1]) >= 1
            runs = guard.kdf_runs
            assert (await _get_me(attacker, base, f"admin.{secrets.token_urlsafe(16)}"))[0] == 429
            assert guard.kdf_runs == runs
            assert (await _get_me(user, base, TOKENS["agent1"]))[0] == 200  # the other client is not held back
    finally:
        gate.set()
        users.authenticate = real_authenticate
