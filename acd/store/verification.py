"""Caller verification against the store: secrets checked against their slow salted hashes,
failures counted per customer and per caller number across calls, lockout after N failures
within a window, every attempt audited (time, caller number, method, result), never the digits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from collections.abc import Callable

from acd.clock import Clock
from acd.logs import get_logger
from acd.ports import VerifyResult
from acd.secrets import Secret, verify_secret
from acd.store.attempts import claim_attempt, settle_attempt
from acd.store.sql import SqlStore

log = get_logger(__name__)


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 3
    window_s: float = 3600.0


class SqlVerification:
    def __init__(self, store: SqlStore, clock: Clock, policy: LockoutPolicy = LockoutPolicy(), *,
                 on_attempt: Callable[[str, str], None] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.on_attempt = on_attempt or (lambda method, result: None)  # metrics: method, result

    async def is_locked(self, customer_id: str, caller_number: str | None) -> bool:
        since = self.clock.now() - self.policy.window_s
        if await self.store.count_failures(since, customer_id=customer_id) >= self.policy.max_failures:
            return True
        if caller_number and await self.store.count_failures(since, caller_number=caller_number) >= self.policy.max_failures:
            return True
        return False

    async def verify_pin(self, customer_id: str, pin: Secret, caller_number: str | None, call_id: str) -> VerifyResult:
        return await self._verify(customer_id, "pin", pin, caller_number, call_id)

    async def verify_date(self, customer_id: str, kind: str, date_digits: Secret, caller_number: str | None, call_id: str) -> VerifyResult:
        """``date_digits`` is YYYYMMDD; ``kind`` is ``memorable_date`` or ``dob``."""
        return await self._verify(customer_id, kind, date_digits, caller_number, call_id)

    async def unlock(self, customer_id: str, *, by: str) -> None:
        """A supervisor lifts the lock (after checking the caller another way)."""
        await self.store.record_attempt(customer_id=customer_id, caller_number=None, method=f"unlock:{by}"[:20], result="unlocked", call_id=None)

    async def _verify(self, customer_id: str, method: str, given: Secret, caller_number: str | None, call_id: str) -> VerifyResult:
        """Claim an attempt slot atomically (or be refused: locked), then check the slow hash, then
        settle the slot, so simultaneous calls never get more than ``max_failures`` checks."""
        now = self.clock.now()
        claim = await claim_attempt(self.store.engine, customer_id=customer_id, caller_number=caller_number,
                                    method=method, call_id=call_id, at=now, since=now - self.policy.window_s,
                                    max_failures=self.policy.max_failures)
        if claim.locked:
            result = VerifyResult.LOCKED
        else:
            assert claim.attempt_id is not None
            stored = await self.store.secret_hash(customer_id, method)
            if stored is None:
                result = VerifyResult.NO_SECRET
            elif await asyncio.to_thread(verify_secret, given, stored):
                result = VerifyResult.OK
            else:
                result = VerifyResult.FAILED
            await settle_attempt(self.store.engine, claim.attempt_id, result.value)
            if result is VerifyResult.FAILED and await self.is_locked(customer_id, caller_number):
                result = VerifyResult.LOCKED  # this failure was the last allowed one
                log.warn_event("verification.locked", customer_id=customer_id, method=method)
        log.event("verification.attempt", customer_id=customer_id, method=method, result=result.value)
        self.on_attempt(method, result.value)
        return result
