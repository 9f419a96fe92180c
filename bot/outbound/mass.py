"""企业群发 for the customers a push could not reach in a 48-hour window.

A push created with `mass` asks, once its batches are done: of the customers refused as
`outside_window`, those who are a guide's WeCom external contacts (a `wecom_kf:` identity
and a bound guide, issue 12's 锁客) get the text through `externalcontact/add_msg_template`:
one task per guide, which the guide confirms in the WeCom client (nothing reaches a
customer before that). WeCom lets an enterprise send each customer a limited number of
群发 messages; we keep to one a day per customer (`{brand}:cust:<cid>:mass_on:<day>`, set once
WeCom accepted the task).

`{brand}:push:<id>:mass` (hash): `<guide>` → `sending` | the task's msgid | `failed:<errcode>`,
`<guide>:count` → customers in the task, `<guide>:failed` → ids WeCom refused (fail_list).
A guide found `sending` (a worker died during the call) is in doubt and not asked again.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, Dict, List, Tuple

from bot.outbound import deliveries, pushes
from bot.outbound.policy import OUTSIDE_WINDOW
from bot.wechat.api import ApiError, HttpJson, WeComAppClient
from bot.wechat.settings import env_str, wecom_api_base
from common import key_tags, sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)

CUSTOMER = key_tags.MARKETING + "cust:"
DAILY_LIMIT_TTL_S = 2 * 86400


def mass_key(push_id: str) -> str:
    return f"{pushes.PREFIX}{push_id}:mass"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def contact_client(redis: Any, http: HttpJson) -> WeComAppClient:
    """The 客户联系 secret's token (else the guide app's), as scripts/contact_way.py."""
    secret = env_str("WECOM_CONTACT_SECRET") or env_str("WECOM_SECRET")
    return WeComAppClient(wecom_api_base(), redis, env_str("WECOM_CORP_ID"), secret,
                          env_str("WECOM_AGENT_ID") or "contact", http=http)


def day_key(cid: str, day: int) -> str:
    return f"{CUSTOMER}{cid}:mass_on:{day}"


async def audience(redis: Any, push_id: str, day: int) -> Dict[str, List[Tuple[str, str]]]:
    """guide → (cid, external_userid) of the push's outside-window customers who had no 群发 today."""
    cids = await pushes.batch_targets(redis, push_id, 0, 10 ** 9)
    by_guide: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for start in range(0, len(cids), 500):
        chunk = cids[start:start + 500]
        pipe = redis.pipeline(transaction=False)
        for cid in chunk:
            pipe.hmget(deliveries.key(f"push:{push_id}:{cid}"), "status", "reason")
            pipe.hget(f"{CUSTOMER}{cid}:profile", "guide")
            pipe.smembers(f"{CUSTOMER}{cid}:idents")
            pipe.exists(day_key(cid, day))
        answers = await pipe.execute()
        for index, cid in enumerate(chunk):
            (status, reason), guide, idents, had_one = answers[4 * index: 4 * index + 4]
            if had_one:
                continue
            if _text(status or "") != "refused" or _text(reason or "") != OUTSIDE_WINDOW or not guide:
                continue
            external = sorted(sender.split(_text(i))[1] for i in idents if _text(i).startswith(sender.WECOM_KF + ":"))
            if external:
                by_guide[_text(guide)].append((cid, external[0]))
    return dict(by_guide)


async def send_tasks(redis: Any, http: HttpJson, push: pushes.Push, text: str, day: int) -> Dict[str, int]:
    """One 群发 task per guide, each asked of WeCom once."""
    client = contact_client(redis, http)
    counts = {"tasks": 0, "customers": 0, "failed": 0, "in_doubt": 0}
    for guide, members in sorted((await audience(redis, push.id, day)).items()):
        users = [external for _, external in members]
        if not await redis.hsetnx(mass_key(push.id), guide, "sending"):
            if _text(await redis.hget(mass_key(push.id), guide)) == "sending":
                counts["in_doubt"] += 1
            continue
        try:
            answer = await client.add_msg_template(guide, users, text)
        except ApiError as error:
            logger.warning("群发 task of push %s for guide %s refused (errcode %s).", push.id, mask_id(guide),
                           error.errcode)
            await redis.hset(mass_key(push.id), guide, f"failed:{error.errcode}")
            counts["failed"] += 1
            continue
        refused = [str(u) for u in answer.get("fail_list") or []]
        pipe = redis.pipeline(transaction=False)
        for cid, external in members:
            if external not in refused:
                pipe.set(day_key(cid, day), push.id, ex=DAILY_LIMIT_TTL_S)
        await pipe.execute()
        await redis.hset(mass_key(push.id), mapping={guide: str(answer.get("msgid") or ""),
                                                     f"{guide}:count": len(users) - len(refused),
                                                     f"{guide}:failed": ",".join(refused)})
        counts["tasks"] += 1
        counts["customers"] += len(users) - len(refused)
    return counts


async def summary(redis: Any, push_id: str) -> Dict[str, Any]:
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(mass_key(push_id)) or {}).items()}
    guides = {k: v for k, v in raw.items() if ":" not in k}
    return {"tasks": sum(1 for v in guides.values() if v.startswith("msg")),
            "customers": sum(int(raw.get(f"{g}:count") or 0) for g in guides),
            "failed": {g: v for g, v in guides.items() if v.startswith("failed:")},
            "waiting_for_guides": sorted(g for g, v in guides.items() if v.startswith("msg"))}

