"""Readiness, for a load balancer or an orchestrator: the AMI link to Asterisk is up, the
database takes a write, and the call-record spool's backlog is under its bound."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from acd.ami import AmiClient
from acd.store.durable import DurableRecorder
from acd.store.sql import SqlStore
from acd.deadline import within

DB_CHECK_TIMEOUT_S = 2.0


class Readiness:
    def __init__(self, ami: AmiClient, store: SqlStore, records: DurableRecorder, spool_max_bytes: int) -> None:
        self._ami = ami
        self._store = store
        self._records = records
        self.spool_max_bytes = spool_max_bytes  # http.ready_spool_max_bytes

    async def _database_writable(self) -> tuple[bool, str]:
        try:
            await within(self._store.check_writable(), DB_CHECK_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            return False, f"not writable ({type(exc).__name__})"
        return True, "writable"

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, checks): each check's result, with no secret and no address."""
        ami_ok = self._ami.is_connected
        db_ok, db_detail = await self._database_writable()
        backlog = self._records.backlog_bytes()
        spool_ok = backlog <= self.spool_max_bytes
        checks = {"ami": {"ok": ami_ok, "detail": "linked" if ami_ok else "not linked"},
                  "database": {"ok": db_ok, "detail": db_detail},
                  "spool": {"ok": spool_ok, "backlog_bytes": backlog, "max_bytes": self.spool_max_bytes}}
        return ami_ok and db_ok and spool_ok, checks
