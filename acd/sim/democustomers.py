"""The demo's customers: seeded into the customer store by ``acd demo`` so that its simulated
callers are identified by caller id and asked for their PIN (the demo's PINs are public demo
data, like the demo users' tokens; real PINs only ever arrive through the import, hashed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd.logs import get_logger
from acd.secrets import Secret

if TYPE_CHECKING:
    from acd.store.sql import SqlStore

log = get_logger(__name__)


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    phone: str
    account_number: str
    pin: str
    vip: bool = False
    segment: str = "retail"
    language: str = "en"


DEMO_CUSTOMERS = (
    DemoCustomer("Amélie Laurent", "+447700900101", "10000101", "2468", vip=True, segment="private", language="fr"),
    DemoCustomer("Bjørn Andersen", "+447700900102", "10000102", "1357"),
    DemoCustomer("Chloé Martin", "+447700900103", "10000103", "8642", segment="business"),
    DemoCustomer("Dmitri Volkov", "+447700900104", "10000104", "9753"),
    DemoCustomer("Eilidh MacLeod", "+447700900105", "10000105", "1122", vip=True),
    DemoCustomer("Farah Haddad", "+447700900106", "10000106", "3344"),
    DemoCustomer("Gökhan Yılmaz", "+447700900107", "10000107", "5566", segment="business"),
    DemoCustomer("Hana Sato", "+447700900108", "10000108", "7788"),
)


async def seed_demo_customers(store: SqlStore) -> int:
    """Add the demo customers that are not in the store yet; returns how many were added."""
    added = 0
    for c in DEMO_CUSTOMERS:
        if await store.find_by_account(c.account_number) is not None:
            continue
        cid = await store.create_customer(name=c.name, phones=[c.phone], account_number=c.account_number, vip=c.vip,
                                          segment=c.segment, language=c.language, by="demo")
        await store.set_secret(cid, "pin", Secret(c.pin), by="demo")
        added += 1
    if added:
        log.event("demo.customers_seeded", added=added)
    return added
