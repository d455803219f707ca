"""The engine fixtures live in tests/conftest.py (shared with tests/http); re-exported here for
the modules that import them from this package."""

from tests.conftest import QUEUES, REALISTIC_QUEUES, agents_yaml, wait_until  # noqa: F401


async def drop_redis_keys(prefix: str) -> None:
    """Delete a test's keys on the real Redis (every key under its unique prefix)."""
    import redis.asyncio as aioredis

    r = aioredis.from_url("redis://127.0.0.1:6379/0")
    try:
        keys = [k async for k in r.scan_iter(f"{prefix}*")]
        if keys:
            await r.delete(*keys)
    finally:
        await r.aclose()
