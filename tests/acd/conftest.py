"""The engine fixtures live in tests/conftest.py (shared with tests/http); re-exported here for
the modules that import them from this package."""

from tests.conftest import QUEUES, REALISTIC_QUEUES, agents_yaml, wait_until  # noqa: F401
