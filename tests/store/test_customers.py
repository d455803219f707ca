import pytest

from acd.secrets import Secret
from acd.store.phones import BadPhoneNumber, normalise_phone
from acd.store.sql import NotFound, StoreError


def test_phone_numbers_are_normalised_to_e164():
    assert normalise_phone("020 7946 0000") == "+442079460000"
    assert normalise_phone("0044 20 7946 0000") == "+442079460000"
    assert normalise_phone("+1 (415) 555-2671") == "+14155552671"
    with pytest.raises(BadPhoneNumber):
        normalise_phone("anonymous")
    with pytest.raises(BadPhoneNumber):
        normalise_phone("12")


async def test_customer_round_trip_with_contacts(store):
    cid = await store.create_customer(name="Ada Lovelace", phones=["020 7946 0000"], emails=[" Ada@Example.org "],
                                      account_number="10001", segment="gold", vip=True, language="en", by="import")
    c = await store.get_customer(cid)
    assert c["name"] == "Ada Lovelace" and c["vip"] is True and c["segment"] == "gold"
    assert c["phones"] == ["+442079460000"] and c["emails"] == ["ada@example.org"]
    [found] = await store.find_by_phone("+442079460000")
    assert found.customer_id == cid and found.vip and found.account_number == "10001"
    assert (await store.find_by_account("10001")).customer_id == cid
    assert await store.find_by_account("99999") is None
    assert await store.find_by_phone("anonymous") == []


async def test_several_customers_share_a_number(store):
    a = await store.create_customer(name="Parent", phones=["+442079460001"])
    b = await store.create_customer(name="Child", phones=["020 7946 0001"])
    found = await store.find_by_phone("+442079460001")
    assert {c.customer_id for c in found} == {a, b}


async def test_account_numbers_are_unique(store):
    await store.create_customer(name="A", account_number="555")
    with pytest.raises(StoreError, match="already belongs"):
        await store.create_customer(name="B", account_number="555")
    with pytest.raises(StoreError, match="unknown customer field"):
        await store.create_customer(name="C", shoe_size=9)


async def test_changes_keep_the_old_value_with_who_and_when(store, clock):
    cid = await store.create_customer(name="Grace", segment="silver")
    clock.advance(60)
    await store.update_customer(cid, {"segment": "gold", "notes": "prefers mornings"}, by="alice")
    clock.advance(60)
    c = await store.update_customer(cid, {"segment": "platinum"}, by="bob")
    assert c["segment"] == "platinum"
    revs = [r for r in await store.revisions(cid) if r["field"] == "segment"]
    assert [(r["old"], r["new"], r["by"]) for r in revs] == [("silver", "gold", "alice"), ("gold", "platinum", "bob")]
    assert revs[1]["at"] - revs[0]["at"] == 60
    with pytest.raises(NotFound):
        await store.update_customer("nope", {"name": "x"}, by="alice")


async def test_secrets_are_stored_only_as_slow_salted_hashes(store):
    cid = await store.create_customer(name="Alan")
    await store.set_secret(cid, "pin", Secret("4321"), by="alice")
    stored = await store.secret_hash(cid, "pin")
    assert stored.startswith("scrypt$") and "4321" not in stored.split("$")  # hex salt and digest may contain any digits
    await store.set_secret(cid, "pin", Secret("4321"), by="alice")
    assert await store.secret_hash(cid, "pin") != stored  # a fresh salt every time
    revs = await store.revisions(cid)
    assert all("4321" not in repr(r) for r in revs)
    assert [r["new"] for r in revs if r["field"] == "secret:pin"] == ["(changed)", "(changed)"]
