"""The outbound worker: arq jobs that make the persona speak first.

Why arq: jobs live in Redis (which we run anyway), it is asyncio like the rest of the
bot (our aiohttp API clients run unchanged), and it brings deferred jobs (quiet hours),
retries of a job whose worker died (in-progress keys expire), unique job ids and cron.

What is durable is ours, not the queue's: pushes (`{brand}:push:due`) and notices
(`{brand}:outbox:notices`) are written by ops and by Lua steps, and the `sweep` cron
(every few seconds) turns what is due into jobs. A lost or duplicated job therefore
changes nothing: every delivery is claimed once (bot/outbound/deliveries.py).

Run: `python -m bot.outbound` (one or more processes; `make run` starts one).
"""
from __future__ import annotations

import json
import logging
import os
import time
from datetime import datetime, time as dtime, timezone
from typing import Any, Dict, Optional
from zoneinfo import ZoneInfo

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from actions.outbox import GRANT_PREFIX
from actions.services import coupons
from actions.services.catalog import catalog
from bot.outbound import dispatch, mass, pushes, reminders
from bot.outbound.audience import facts_of
from bot.outbound.channels import ChannelSender
from bot.outbound.deliveries import NOTICE_STATS
from bot.outbound.policy import MARKETING, NOTICE, Settings
from bot.persona import load_facts, load_persona, render_text, system_text
from bot.redis_conn import make_redis
from common import notices, redis_settings

logger = logging.getLogger(__name__)

QUEUE = "outbound:queue"  # arq's own keys (queue, jobs, results) carry this prefix
SWEEP_LIMIT = 200


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def job_timeout_s() -> float:
    """A job's longest run (a batch of pushes.BATCH messages at the API rate, a plan of the
    whole segment); a job whose worker died is taken again this much (+10 s) later."""
    return float(os.environ.get("OUTBOUND_JOB_TIMEOUT_S", "120"))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def startup(ctx: Dict[str, Any]) -> None:
    ctx.setdefault("redis_data", make_redis())
    ctx.setdefault("clock", utc_now)
    ctx.setdefault("settings", Settings.from_env())
    ctx["sender"] = ChannelSender(ctx["redis_data"])
    logger.info("Outbound worker ready (quiet hours %s-%s %s, cap %d a day, %d msg/s).",
                ctx["settings"].quiet_start, ctx["settings"].quiet_end, ctx["settings"].timezone,
                ctx["settings"].daily_cap, dispatch.api_rate_per_s())


async def shutdown(ctx: Dict[str, Any]) -> None:
    await ctx["sender"].close()


# --- the sweep: durable records → jobs --------------------------------------------------
async def sweep(ctx: Dict[str, Any]) -> Dict[str, int]:
    redis, queue = ctx["redis_data"], ctx["redis"]
    now = time.time()
    started = 0
    for push_id in await redis.zrangebyscore(pushes.DUE, "-inf", now, start=0, num=SWEEP_LIMIT):
        if await queue.enqueue_job("run_push", _text(push_id), _job_id=f"run_push:{_text(push_id)}"):
            started += 1
    queued = 0
    for notice_id in await redis.zrangebyscore(notices.OUTBOX, "-inf", now, start=0, num=SWEEP_LIMIT):
        if await queue.enqueue_job("deliver_notice", _text(notice_id), _job_id=f"notice:{_text(notice_id)}"):
            queued += 1
    return {"pushes": started, "notices": queued}


# --- pushes ----------------------------------------------------------------------------
async def run_push(ctx: Dict[str, Any], push_id: str) -> Dict[str, Any]:
    redis, queue = ctx["redis_data"], ctx["redis"]
    push = await pushes.get(redis, push_id)
    if push is None or push.status in ("done", "cancelled"):
        await redis.zrem(pushes.DUE, push_id)
        return {"push": push_id, "skipped": push.status if push else "missing"}
    batches = await pushes.plan(redis, push, ctx["clock"]())
    push = await pushes.get(redis, push_id)
    for index in range(batches):
        start = index * pushes.BATCH
        await queue.enqueue_job("push_batch", push_id, start, start + pushes.BATCH, _job_id=f"batch:{push_id}:{start}")
    if batches == 0:
        await redis.hset(pushes.key(push_id), mapping={"status": "done", "done_at": str(time.time())})
    elif push and push.status == "planned":
        await redis.hset(pushes.key(push_id), "status", "sending")
    await redis.zrem(pushes.DUE, push_id)
    return {"push": push_id, "batches": batches}


async def push_batch(ctx: Dict[str, Any], push_id: str, start: int, end: int, first: Optional[int] = None) -> Dict[str, Any]:
    """Deliver targets [start, end) of a push; `first` resumes a batch postponed by quiet hours."""
    redis = ctx["redis_data"]
    settings: Settings = ctx["settings"]
    push = await pushes.get(redis, push_id)
    if push is None or push.status == "cancelled":
        return {"push": push_id, "cancelled": True}
    cids = await pushes.batch_targets(redis, push_id, start, end)
    begin = first if first is not None else start
    todo = cids[begin - start:]
    facts = await facts_of(redis, todo, ctx["clock"](), settings)
    counts: Dict[str, int] = {}
    for offset, cid in enumerate(todo):
        if offset and offset % 20 == 0 and (await pushes.get(redis, push_id)).status == "cancelled":
            return {"push": push_id, "cancelled": True, **counts}
        now = ctx["clock"]()
        result = await dispatch.deliver(
            redis, ctx["sender"], delivery_id=f"push:{push_id}:{cid}", stats_key=pushes.stats_key(push_id), cid=cid,
            facts=facts[cid], kind=MARKETING, text_for=_push_text(ctx, push, cid, now), now=now, settings=settings,
            push_id=push_id)
        counts[result.state] = counts.get(result.state, 0) + 1
        if result.state in ("postponed", "retry") and result.reason != "handoff":
            # quiet hours (or the API unreachable): the rest of the batch waits, in a deferred job
            until = result.until.timestamp() if result.until else time.time() + 60
            resume = begin + offset
            await ctx["redis"].enqueue_job("push_batch", push_id, start, end, resume,
                                           _job_id=f"batch:{push_id}:{start}:{resume}:{int(until)}",
                                           _defer_until=datetime.fromtimestamp(until, timezone.utc))
            return {"push": push_id, "resumes_at": until, **counts}
    if await pushes.batch_done(redis, push, start) and push.mass:
        await ctx["redis"].enqueue_job("push_mass", push_id, _job_id=f"mass:{push_id}")
    return {"push": push_id, **counts}


async def push_mass(ctx: Dict[str, Any], push_id: str) -> Dict[str, Any]:
    """After the last batch: guide-confirmed 群发 tasks for those outside the window."""
    redis = ctx["redis_data"]
    push = await pushes.get(redis, push_id)
    if push is None or push.status == "cancelled" or not push.mass:
        return {"push": push_id, "skipped": True}
    text = await _push_text(ctx, push, "", ctx["clock"](), footer=False)()
    return {"push": push_id, **await mass.send_tasks(redis, ctx["sender"].http, push, text,
                                                      ctx["settings"].local_day(ctx["clock"]()))}


def _push_text(ctx: Dict[str, Any], push: pushes.Push, cid: str, now: datetime, footer: bool = True) -> dispatch.TextFor:
    async def text() -> str:
        persona = load_persona()
        body = render_text(push.text, persona, load_facts())
        if push.coupon:
            code = await _push_coupon(ctx, push, cid, now)
            body = body.replace("{coupon_code}", code) if "{coupon_code}" in body else \
                f"{body}\n{catalog().formats['push_coupon_line'].format(code=code)}"
        # a 群发 comes from the guide's own WeCom account: "TD" there reaches the guide, not us
        return f"{body}\n\n{system_text('outbound_footer', persona)}" if footer else body
    return text


async def _push_coupon(ctx: Dict[str, Any], push: pushes.Push, cid: str, now: datetime) -> str:
    # the same grant id for a retried delivery: one code per customer per push
    issued = await coupons.issue(ctx["redis_data"], catalog(), cid, push.coupon, now,
                                 grant_id=f"{GRANT_PREFIX}push:{push.id}:{cid}")
    if issued.status == "issued":
        await ctx["redis_data"].hincrby(pushes.stats_key(push.id), "coupons", 1)
    return issued.code or catalog().formats["push_coupon_out"]


# --- notices ---------------------------------------------------------------------------
async def deliver_notice(ctx: Dict[str, Any], notice_id: str) -> Dict[str, Any]:
    redis = ctx["redis_data"]
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(notices.key(notice_id)) or {}).items()}
    if not raw or raw.get("status") not in ("pending", "postponed"):
        await redis.zrem(notices.OUTBOX, notice_id)
        return {"notice": notice_id, "skipped": raw.get("status", "missing")}
    cid, kind = raw["cid"], raw.get("kind", "")
    values = {k: str(v) for k, v in json.loads(raw.get("values") or "{}").items()}
    now = ctx["clock"]()
    facts = (await facts_of(redis, [cid], now, ctx["settings"]))[cid]

    async def text() -> str:
        return system_text(f"outbound_{kind}", **values)

    found = catalog().templates.get(kind)  # the brand's 模板消息 for this kind, outside the window
    result = await dispatch.deliver(redis, ctx["sender"], delivery_id=f"notice:{notice_id}", stats_key=NOTICE_STATS,
                                    cid=cid, facts=facts, kind=NOTICE, text_for=text, now=now,
                                    settings=ctx["settings"],
                                    template=(found.template_id, found.data(values)) if found else None)
    if result.state in ("postponed", "retry"):
        until = result.until.timestamp() if result.until else time.time() + 60
        await redis.hset(notices.key(notice_id), mapping={"status": "postponed", "reason": result.reason})
        await redis.zadd(notices.OUTBOX, {notice_id: until})
    else:
        await redis.hset(notices.key(notice_id), mapping={"status": result.state, "reason": result.reason,
                                                          "finished_at": str(time.time())})
        await redis.zrem(notices.OUTBOX, notice_id)
    return {"notice": notice_id, "state": result.state, "reason": result.reason}


def redis_settings_for_arq() -> RedisSettings:
    return RedisSettings.from_dsn(redis_settings.redis_url())


def sweep_seconds() -> set:
    every = max(1, int(os.environ.get("OUTBOUND_SWEEP_S", "5")))
    return set(range(0, 60, every))


def daily(job: Any, env_name: str, default: str) -> Any:
    """A cron job once a day at a local time of the brand (env HH:MM)."""
    at = dtime.fromisoformat(os.environ.get(env_name, default))
    return cron(job, hour=at.hour, minute=at.minute, second=0, unique=True)


def worker_settings(**overrides: Any) -> Dict[str, Any]:
    """Keyword arguments of arq's Worker (tests pass a clock and settings through ctx)."""
    settings: Dict[str, Any] = dict(
        # every job fits in one timeout: arq keeps a job "in progress" for the longest timeout
        # (+10 s), which is how long a job of a killed worker waits before another takes it
        functions=[func(run_push, max_tries=20), func(push_batch, max_tries=50), func(deliver_notice, max_tries=20),
                   func(push_mass, max_tries=5)],
        cron_jobs=[cron(sweep, second=sweep_seconds(), run_at_startup=True, unique=True),
                   daily(reminders.checkin_reminders, "OUTBOUND_CHECKIN_REMINDER_AT", "20:00"),
                   daily(reminders.coupon_reminders, "OUTBOUND_COUPON_REMINDER_AT", "10:00"),
                   daily(reminders.camp_tips, "OUTBOUND_CAMP_TIP_AT", "09:00")],
        timezone=ZoneInfo(Settings.from_env().timezone),  # cron hours are the brand's
        job_timeout=job_timeout_s(), on_startup=startup, on_shutdown=shutdown, queue_name=QUEUE, keep_result=0,
        redis_settings=redis_settings_for_arq(), max_jobs=int(os.environ.get("OUTBOUND_CONCURRENCY", "16")),
        poll_delay=0.2, handle_signals=True, health_check_interval=30,
    )
    settings.update(overrides)
    return settings

