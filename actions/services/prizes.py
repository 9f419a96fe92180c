"""Prize claims: what a customer won (lottery or check-in reward) and, for
parcels, the recipient's name, phone and address kept for fulfilment.

Phone and address live only in the claim hash; logs use common.privacy masks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional

import redis.asyncio as aioredis

from actions.services.catalog import Catalog
from actions.services.clock import iso
from actions.services.customers import key
from actions.services.store import TAG, scripts

CLAIM_PREFIX = TAG + "claim:"
CLAIM_SEQ = TAG + "claim:seq"
AWAITING_ADDRESS = "awaiting_address"
ADDRESS_FILLED = "address_filled"
GRANTED = "granted"  # coupons and points: nothing left to do
SHIPPED = "shipped"  # ops marked it shipped (actions/services/shipping.py)
SHIPPING_FIELDS = ("carrier", "tracking", "shipped_at")
ADDRESS_FIELDS = ("recipient_name", "recipient_phone", "address_province", "address_city", "address_detail")


def claim_status(kind: str) -> str:
    return AWAITING_ADDRESS if kind == "physical" else GRANTED


@dataclass(frozen=True)
class Claim:
    id: str
    customer: str
    campaign: str
    prize: str
    kind: str
    status: str
    won_at: str
    fields: Dict[str, str]
    shipping: Dict[str, str] = field(default_factory=dict)

    def prize_name(self, catalog: Catalog) -> str:
        lottery = catalog.lottery(self.campaign)
        prize = lottery.prize(self.prize) if lottery else None
        if prize:
            return prize.name
        if self.campaign == catalog.checkin.id:  # check-in milestone "m<days>"
            days = int(self.prize.lstrip("m") or 0)
            return next((m.reward.name for m in catalog.checkin.milestones if m.days == days), self.prize)
        return self.prize


async def create(client: aioredis.Redis, cid: str, campaign: str, prize: str, kind: str, now: datetime) -> str:
    """A claim outside the draw script (check-in rewards)."""
    fields = {"customer": cid, "campaign": campaign, "prize": prize, "kind": kind,
              "status": claim_status(kind), "won_at": iso(now)}
    return str(await scripts(client).create_claim(
        keys=[CLAIM_SEQ, key(cid, "claims")], args=[CLAIM_PREFIX, *[v for pair in fields.items() for v in pair]]))


async def get(client: aioredis.Redis, claim_id: str) -> Optional[Claim]:
    raw = await client.hgetall(f"{CLAIM_PREFIX}{claim_id}")
    if not raw:
        return None
    return Claim(id=raw["id"], customer=raw["customer"], campaign=raw["campaign"], prize=raw["prize"],
                 kind=raw["kind"], status=raw["status"], won_at=raw["won_at"],
                 fields={f: raw[f] for f in ADDRESS_FIELDS if f in raw},
                 shipping={f: raw[f] for f in SHIPPING_FIELDS if f in raw})


async def of_customer(client: aioredis.Redis, cid: str) -> List[Claim]:
    ids = await client.lrange(key(cid, "claims"), 0, -1)
    claims = [await get(client, i) for i in ids]
    return [c for c in claims if c]


# What save_address did; SAVED and REPEAT mean the claim holds this address.
SAVED = "saved"
REPEAT = "repeat"  # a retried submit: the first one was saved, nothing changed
FILLED = "filled"  # another address was saved before: never overwritten
FOREIGN = "foreign"
MISSING = "missing"
NOT_PARCEL = "not_parcel"
INCOMPLETE = "incomplete"


async def save_address(client: aioredis.Redis, cid: str, claim_id: str, fields: Dict[str, str], now: datetime,
                       key: str = "") -> str:
    """Only the customer who won may fill the claim, only a parcel, and only while
    it waits for an address: one atomic check-and-set (Lua), so two submits racing
    cannot both write. `key` identifies the submit (the user message that completed
    the form): the same submit again returns REPEAT, as does the same address."""
    if not claim_id or any(not fields.get(f) for f in ADDRESS_FIELDS):
        return INCOMPLETE
    pairs = [part for f in ADDRESS_FIELDS for part in (f, fields[f])]
    result, _status = await scripts(client).save_address(
        keys=[f"{CLAIM_PREFIX}{claim_id}"], args=[cid, iso(now), key or ""] + pairs)
    return str(result)


async def saved_by(client: aioredis.Redis, cid: str, claim_id: str, key: str) -> str:
    """For a submit without raw values (its drafts are gone): REPEAT when this
    customer's claim was filled by the submit `key` (a retry), FILLED when it was
    filled by another, INCOMPLETE otherwise (never save a masked value)."""
    if not claim_id:
        return INCOMPLETE
    customer, status, saved_key = await client.hmget(f"{CLAIM_PREFIX}{claim_id}", "customer", "status", "address_key")
    if customer != cid or status != ADDRESS_FILLED:
        return INCOMPLETE
    return REPEAT if key and saved_key == key else FILLED
