import pytest

from acd.ports import VerifyResult
from acd.secrets import Secret
from acd.store.verification import LockoutPolicy, SqlVerification

CALLER = "+442079460000"


@pytest.fixture
async def verifier(store, clock):
    return SqlVerification(store, clock, LockoutPolicy(max_failures=3, window_s=3600))


@pytest.fixture
async def customer(store):
    cid = await store.create_customer(name="Ada", phones=[CALLER], account_number="10001")
    await store.set_secret(cid, "pin", Secret("4321"), by="test")
    await store.set_secret(cid, "dob", Secret("19701231"), by="test")
    return cid


async def test_right_and_wrong_secrets(verifier, customer, store):
    assert await verifier.verify_pin(customer, Secret("4321"), CALLER, "c1") is VerifyResult.OK
    assert await verifier.verify_pin(customer, Secret("1111"), CALLER, "c1") is VerifyResult.FAILED
    assert await verifier.verify_date(customer, "dob", Secret("19701231"), CALLER, "c1") is VerifyResult.OK
    assert await verifier.verify_date(customer, "memorable_date", Secret("20000101"), CALLER, "c1") is VerifyResult.NO_SECRET
    audit = await store.attempts(customer_id=customer)
    assert [(a["method"], a["result"], a["caller_number"], a["call_id"]) for a in audit] == [
        ("pin", "ok", CALLER, "c1"), ("pin", "failed", CALLER, "c1"), ("dob", "ok", CALLER, "c1"),
        ("memorable_date", "no_secret", CALLER, "c1")]
    assert "4321" not in repr(audit) and "1111" not in repr(audit)


async def test_lockout_across_calls_then_the_window_passes(verifier, customer, clock):
    assert await verifier.verify_pin(customer, Secret("0000"), CALLER, "call-1") is VerifyResult.FAILED
    assert await verifier.verify_pin(customer, Secret("0001"), CALLER, "call-1") is VerifyResult.FAILED
    clock.advance(600)  # hang up, call again
    assert await verifier.verify_pin(customer, Secret("0002"), CALLER, "call-2") is VerifyResult.LOCKED
    assert await verifier.is_locked(customer, CALLER)
    # even the right PIN is refused while locked, and the attempt is audited as such
    assert await verifier.verify_pin(customer, Secret("4321"), CALLER, "call-3") is VerifyResult.LOCKED
    clock.advance(3601)
    assert not await verifier.is_locked(customer, CALLER)
    assert await verifier.verify_pin(customer, Secret("4321"), CALLER, "call-4") is VerifyResult.OK


async def test_failures_are_counted_per_caller_number_across_customers(verifier, store, customer):
    other = await store.create_customer(name="Bob", account_number="10002")
    await store.set_secret(other, "pin", Secret("9999"), by="test")
    attacker = "+441632960001"
    assert await verifier.verify_pin(customer, Secret("1"), attacker, "a") is VerifyResult.FAILED
    assert await verifier.verify_pin(other, Secret("2"), attacker, "a") is VerifyResult.FAILED
    assert await verifier.verify_pin(other, Secret("3"), attacker, "a") is VerifyResult.LOCKED
    assert await verifier.is_locked(customer, attacker)
    assert not await verifier.is_locked(customer, CALLER)  # the real customer, from their own phone, is not locked


async def test_a_success_resets_the_count_and_a_supervisor_can_unlock(verifier, customer):
    for pin in ("1", "2"):
        await verifier.verify_pin(customer, Secret(pin), CALLER, "c")
    assert await verifier.verify_pin(customer, Secret("4321"), CALLER, "c") is VerifyResult.OK
    assert await verifier.verify_pin(customer, Secret("3"), CALLER, "c") is VerifyResult.FAILED  # counted from 0 again
    for pin in ("4", "5"):
        await verifier.verify_pin(customer, Secret(pin), None, "c")
    assert await verifier.is_locked(customer, None)
    await verifier.unlock(customer, by="sup1")
    assert not await verifier.is_locked(customer, None)


async def _attempt(verifier, customer, pin: str, caller: str, call_id: str) -> VerifyResult:
    return await verifier.verify_pin(customer, Secret(pin), caller, call_id)


async def test_fifty_simultaneous_wrong_pins_get_at_most_max_failures_checks(verifier, customer, store):
    """Issue #13 item 1: the count is claimed atomically before the slow hash, so a burst of calls
    for one customer gets no more checks than the policy allows, and the right PIN is refused after."""
    import asyncio

    results = await asyncio.gather(*(
        _attempt(verifier, customer, f"{i:04d}", f"+4479111{i:05d}", f"burst-{i}") for i in range(50)))
    checked = [r for r in results if r is not VerifyResult.LOCKED]
    audit = await store.attempts(customer_id=customer)
    assert len(audit) == 50
    assert sum(a["result"] == "failed" for a in audit) == 3  # exactly max_failures hashes were checked
    assert sum(a["result"] == "locked" for a in audit) == 47
    assert not any(a["result"] == "pending" for a in audit)
    assert all(r in (VerifyResult.FAILED, VerifyResult.LOCKED) for r in results)
    assert len(checked) <= 3
    # the right PIN, in a later burst of parallel calls, does not verify any more
    late = await asyncio.gather(*(_attempt(verifier, customer, "4321", CALLER, f"late-{i}") for i in range(10)))
    assert late == [VerifyResult.LOCKED] * 10


async def test_a_burst_with_the_right_pin_inside_checks_no_more_than_the_limit(verifier, customer, store):
    import asyncio

    pins = ["0000"] * 19 + ["4321"] + ["0001"] * 40
    results = await asyncio.gather(*(
        _attempt(verifier, customer, pin, CALLER, f"mix-{i}") for i, pin in enumerate(pins)))
    audit = await store.attempts(customer_id=customer)
    settled = [a for a in audit if a["result"] in ("ok", "failed")]
    assert len(settled) <= 3  # whatever the order, at most max_failures slots (one may be the right PIN)
    assert results.count(VerifyResult.OK) == sum(a["result"] == "ok" for a in audit) <= 1
    assert results.count(VerifyResult.LOCKED) >= 57
