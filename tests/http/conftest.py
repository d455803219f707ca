"""A real engine (simulated PBX, SQLite store) with its HTTP API on a loopback port, users with
known tokens, and a real aiohttp client."""

from __future__ import annotations

import aiohttp
import pytest

from acd.secrets import Secret, hash_secret

TOKENS = {"admin": "admin.t-admin", "sup": "sup.t-sup", "agent1": "agent1.t-agent1", "agent2": "agent2.t-agent2",
          "kiosk": "wall.t-kiosk"}


def users_yaml() -> str:
    rows = [("admin", "admin", None), ("sup", "supervisor", None), ("agent1", "agent", "agent1"), ("agent2", "agent", "agent2"),
            ("kiosk", "kiosk", None)]
    out = "users:\n"
    for uid, role, agent in rows:
        user_id = TOKENS[uid].split(".")[0]
        out += f"  - {{id: {user_id}, name: {uid.title()}, role: {role}, token_hash: '{hash_secret(Secret(TOKENS[uid]), n=2**10)}'"
        out += f", agent_id: {agent}}}\n" if agent else (", endpoint: PJSIP/sup}\n" if uid == "sup" else "}\n")
    return out


class Api:
    def __init__(self, engine, session: aiohttp.ClientSession) -> None:
        self.engine = engine
        self.session = session
        self.base = f"http://127.0.0.1:{engine.http_port}"

    async def call(self, method: str, path: str, who: str | None = None, *, json=None, raw_token: str | None = None):
        headers = {}
        token = raw_token if raw_token is not None else TOKENS.get(who) if who else None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base + path, headers=headers, json=json,
                                        timeout=aiohttp.ClientTimeout(total=15)) as r:
            body = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
            return r.status, body


@pytest.fixture
async def api(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2)
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)
