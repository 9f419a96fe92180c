"""Which customer the action server resolved for an e2e conversation, and what it has."""
from __future__ import annotations

from typing import Dict

import redis

from common import sender as senders
from common.key_tags import MARKETING as TAG


def ident_key(sender_id: str) -> str:
    """`cust:ident:<channel>:<user>`: WeChat namespaces keep theirs; `rest:`/`web:` senders are web identities
    (actions/services/customers.identity_from)."""
    namespace, user = senders.split(sender_id)
    return f"{TAG}cust:ident:{namespace if senders.is_wechat(sender_id) else 'web'}:{user}"


def customer_id(client: redis.Redis, sender_id: str) -> str:
    cid = client.get(ident_key(sender_id))
    assert cid, f"no customer resolved for {sender_id} ({ident_key(sender_id)})"
    return cid


def checkin_totals(redis_url: str) -> Dict[str, int]:
    """`chk:<camp>:<cid>` -> total check-ins (checkin.lua, docs/redis-schema.md): what
    tests and the benchmark count to find check-ins lost or made twice."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return {key: int(client.hget(key, "total") or 0)
                for key in client.scan_iter(TAG + "chk:*", count=1000) if key.count(":") == 3}  # {brand}:chk:<camp>:<cid>
    finally:
        client.close()


def parcel_claim(client: redis.Redis, cid: str) -> str:
    """A parcel prize won earlier, as actions/services/prizes.create writes it."""
    claim_id = str(client.incr(TAG + "claim:seq"))
    client.hset(f"{TAG}claim:{claim_id}", mapping={
        "id": claim_id, "customer": cid, "campaign": "spring_wheel", "prize": "mask_sample",
        "kind": "physical", "status": "awaiting_address", "won_at": "2026-11-30T10:00:00+00:00",
    })
    client.rpush(f"{TAG}cust:{cid}:claims", claim_id)
    return claim_id
