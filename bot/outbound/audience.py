"""Who a customer is to the contact policy: their reachable identity and its state.

Read in pipelines, a batch of customers at a time (a 10,000-customer push reads
three round trips per hundred customers, not per customer).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Sequence

from bot.outbound.deliveries import cap_key
from bot.outbound.policy import Facts, Settings, best_identity
from common import contact_state, key_tags
from common.handoff_routing import held_key

CUSTOMER = key_tags.MARKETING + "cust:"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def facts_of(redis: Any, cids: Sequence[str], now: datetime, settings: Settings,
                   has_template: bool = False) -> Dict[str, Facts]:
    pipe = redis.pipeline(transaction=False)
    for cid in cids:
        pipe.smembers(f"{CUSTOMER}{cid}:idents")
    idents: List[List[str]] = [sorted(_text(i) for i in found or ()) for found in await pipe.execute()]
    pipe = redis.pipeline(transaction=False)
    for names in idents:
        for name in names:
            pipe.hgetall(contact_state.key(name))
    contacts = iter(await pipe.execute())
    day = settings.local_day(now)
    chosen: Dict[str, Facts] = {}
    partial = []
    for cid, names in zip(cids, idents):
        records = {name: {_text(k): _text(v) for k, v in (next(contacts) or {}).items()} for name in names}
        best = best_identity(tuple((n, float(r.get("last_in") or 0)) for n, r in records.items()))
        partial.append((cid, best, records.get(best, {}), any(r.get("optout") == "1" for r in records.values())))
    pipe = redis.pipeline(transaction=False)
    for cid, best, _, _ in partial:
        pipe.get(held_key(best) if best else held_key("-"))
        pipe.get(cap_key(cid, day))
    answers = iter(await pipe.execute())
    for cid, best, record, opted_out in partial:
        held, sent_today = next(answers), next(answers)
        chosen[cid] = Facts(
            sender_id=best, last_in=float(record.get("last_in") or 0), kf_sent=int(record.get("kf_sent") or 0),
            open_kfid=record.get("open_kfid", ""), opted_out=opted_out, held_by_guide=held is not None and bool(best),
            sent_today=int(sent_today or 0), has_template=has_template)
    return chosen
