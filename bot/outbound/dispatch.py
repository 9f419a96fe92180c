"""Deliver one proactive message: policy → rate → claim → text → API → outcome.

Pushes, notices and reminders all come through `deliver`, so the contact policy
(bot/outbound/policy.py) is enforced in one place for every send.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from bot.outbound import deliveries
from bot.outbound.channels import ChannelSender
from bot.outbound.policy import MARKETING, Facts, Settings, decide
from common import sender
from common.privacy import mask_id

logger = logging.getLogger(__name__)

RATE_KEY = "outbound:rate:"  # per-second counter shared by every worker (alone in its slot)


def api_rate_per_s() -> int:
    """Messages per second all workers together send (WeChat's API frequency limits)."""
    return max(1, int(os.environ.get("OUTBOUND_RATE_PER_S", "50")))


async def wait_for_rate(redis: Any, rate: Optional[int] = None) -> None:
    rate = rate or api_rate_per_s()
    while True:
        second = int(time.time())
        pipe = redis.pipeline(transaction=False)
        pipe.incr(f"{RATE_KEY}{second}")
        pipe.expire(f"{RATE_KEY}{second}", 5)
        count, _ = await pipe.execute()
        if int(count) <= rate:
            return
        await asyncio.sleep(max(0.001, second + 1 - time.time()))


@dataclass(frozen=True)
class Result:
    state: str  # sent | undeliverable | refused | postponed | done (earlier) | in_doubt | retry
    reason: str = ""
    until: Optional[datetime] = None


TextFor = Callable[[], Awaitable[str]]


async def deliver(redis: Any, channel_sender: ChannelSender, *, delivery_id: str, stats_key: str, cid: str,
                  facts: Facts, kind: str, text_for: TextFor, now: datetime, settings: Settings,
                  push_id: str = "", template: Optional[Tuple[str, Dict[str, Any]]] = None) -> Result:
    """`template`: (template_id, data) of the brand's 模板消息 for this message, if it has one."""
    decision = decide(replace(facts, has_template=template is not None), kind, now, settings)
    stamp = now.timestamp()
    if decision.action == "postpone":
        await deliveries.set_aside(redis, delivery_id, stats_key, "postponed", decision.reason, stamp)
        return Result("postponed", decision.reason, decision.until)
    if decision.action == "refuse":
        await deliveries.set_aside(redis, delivery_id, stats_key, "refused", decision.reason, stamp)
        return Result("refused", decision.reason)
    await wait_for_rate(redis)
    capped = kind == MARKETING and settings.daily_cap > 0
    kf = sender.split(facts.sender_id)[0] == sender.WECOM_KF
    # the request is written up to its last byte before the claim, the last byte after it
    # (bot/outbound/held_post.py): a worker killed at any point neither loses nor repeats it
    if decision.action == "template":  # outside the window: the brand's 模板消息, one per client_msg_id
        prepared = await channel_sender.prepare_template(facts, template[0], template[1], delivery_id)
    else:
        prepared = await channel_sender.prepare(facts, await text_for())
    if prepared.outcome is not None and prepared.outcome.unreachable:
        return Result("retry", "api_unreachable")  # nothing claimed, nothing sent
    claimed = await deliveries.claim(redis, delivery_id, stats_key, cid=cid, sender_id=facts.sender_id,
                                     day=settings.local_day(now), cap=settings.daily_cap if capped else 0, kf=kf,
                                     now=stamp)
    if claimed.state != "send":
        channel_sender.abort(prepared)
        if claimed.state == "in_doubt":
            logger.warning("Outbound: %s was claimed by a worker that stopped after writing it; not sent again.",
                           delivery_id)
        return Result(claimed.state, claimed.detail)
    outcome = await channel_sender.complete(prepared)
    await deliveries.finish(redis, delivery_id, stats_key, facts.sender_id, sent=outcome.sent,
                            detail=str(outcome.errcode), now=time.time(), push_id=push_id)
    if not outcome.sent:
        logger.info("Outbound: %s to %s undeliverable (errcode %s).", delivery_id, mask_id(facts.sender_id),
                    outcome.errcode)
        return Result("undeliverable", str(outcome.errcode))
    return Result("sent")
