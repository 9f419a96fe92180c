"""Daily reminders, run by the worker's cron at a local time of the brand:

- check-in: a customer who checked in yesterday but not today, with a streak of at least
  `OUTBOUND_CHECKIN_MIN_STREAK` (default 2) days, hears once that it is about to break;
- camps: each member of a 28-day camp gets the day's tip (they asked for it: a notice, not
  marketing, so the daily cap does not stop it), from day 2 to the camp's last day;
- coupon expiry: each code a customer holds that expires within
  `OUTBOUND_COUPON_REMIND_DAYS` (default 3) days, once per code.
Both are marketing under the contact policy (window, cap, quiet hours, 退订). A delivery id
per customer and day (per code) makes a second run of the day, or a retried job, send nothing new.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from typing import Any, Dict, List, Tuple
from zoneinfo import ZoneInfo

from bot.outbound import dispatch
from bot.outbound.audience import facts_of
from bot.outbound.policy import MARKETING, NOTICE, Settings
from bot.outbound.segments import CUSTOMER, customer_chunks
from bot.persona import load_persona, system_text
from common import key_tags

STATS = key_tags.MARKETING + "out:stats:"


def checkin_min_streak() -> int:
    return int(os.environ.get("OUTBOUND_CHECKIN_MIN_STREAK", "2"))


def coupon_remind_days() -> int:
    return int(os.environ.get("OUTBOUND_COUPON_REMIND_DAYS", "3"))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def marketing_text(key: str, **values: str) -> str:
    persona = load_persona()
    return f"{system_text(key, persona, **values)}\n\n{system_text('outbound_footer', persona)}"


async def streaks_at_risk(redis: Any, campaign: str, today: int, min_streak: int) -> List[Tuple[str, int]]:
    """(customer, streak) of everyone whose last check-in was yesterday."""
    found: List[Tuple[str, int]] = []
    async for cids in customer_chunks(redis):
        pipe = redis.pipeline(transaction=False)
        for cid in cids:
            pipe.hmget(f"{key_tags.MARKETING}chk:{campaign}:{cid}", "last_day", "streak")
        for cid, (last_day, streak) in zip(cids, await pipe.execute()):
            if last_day is not None and int(last_day) == today - 1 and int(streak or 0) >= min_streak:
                found.append((cid, int(streak)))
    return found


async def checkin_reminders(ctx: Dict[str, Any]) -> Dict[str, int]:
    from actions.services.catalog import catalog  # the campaign id and time zone of data/catalog

    redis, settings = ctx["redis_data"], ctx["settings"]
    now: datetime = ctx["clock"]()
    campaign = catalog().checkin.id
    today = settings.local_day(now)
    due = await streaks_at_risk(redis, campaign, today, checkin_min_streak())
    return await _deliver_all(ctx, [(f"chkrem:{today}:{cid}", cid, "outbound_checkin_reminder", {"streak": str(streak)})
                                    for cid, streak in due], f"{STATS}checkin_reminders:{today}", now, settings)


async def camp_tips(ctx: Dict[str, Any]) -> Dict[str, int]:
    from actions.services import camps
    from actions.services.catalog import catalog

    redis, settings = ctx["redis_data"], ctx["settings"]
    now: datetime = ctx["clock"]()
    today = settings.local_day(now)
    counts: Dict[str, int] = {}
    for camp in catalog().camps:
        jobs = []
        for cid, enrolled in await camps.members(redis, camp.id):
            day = today - enrolled + 1
            if day > camp.days:
                await redis.zrem(camps.members_key(camp.id), cid)  # graduated
            elif day >= 2:
                jobs.append((f"camp:{camp.id}:{cid}:{day}", cid, "outbound_camp_tip",
                             {"camp": camp.name, "day": str(day), "tip": camp.tip(day)}))
        for state, n in (await _deliver_all(ctx, jobs, f"{STATS}camp:{camp.id}:{today}", now, settings,
                                            kind=NOTICE)).items():
            counts[state] = counts.get(state, 0) + n
    return counts


async def expiring_coupons(redis: Any, now: datetime, days: int) -> List[Tuple[str, str, str, datetime]]:
    """(customer, coupon type, code, expires at) for codes expiring within `days` (not yet expired)."""
    found = []
    async for cids in customer_chunks(redis):
        pipe = redis.pipeline(transaction=False)
        for cid in cids:
            pipe.hgetall(f"{CUSTOMER}{cid}:coupons")
        for cid, held in zip(cids, await pipe.execute()):
            for field, raw in (held or {}).items():
                data = json.loads(_text(raw))
                expires = datetime.fromisoformat(data["expires_at"])
                if now < expires <= now + timedelta(days=days):
                    found.append((cid, data.get("type") or _text(field).partition("#")[0], data["code"], expires))
    return found


async def coupon_reminders(ctx: Dict[str, Any]) -> Dict[str, int]:
    from actions.services.catalog import catalog

    redis, settings = ctx["redis_data"], ctx["settings"]
    now: datetime = ctx["clock"]()
    types = catalog().coupons
    tz = ZoneInfo(settings.timezone)
    jobs = []
    for cid, ctype, code, expires in await expiring_coupons(redis, now, coupon_remind_days()):
        name = types[ctype].name if ctype in types else ctype
        when = expires.astimezone(tz).strftime("%m月%d日").lstrip("0").replace("月0", "月")
        jobs.append((f"cpnexp:{code}", cid, "outbound_coupon_expiring", {"coupon": name, "code": code, "when": when}))
    return await _deliver_all(ctx, jobs, f"{STATS}coupon_reminders:{settings.local_day(now)}", now, settings)


async def _deliver_all(ctx: Dict[str, Any], jobs: List[Tuple[str, str, str, Dict[str, str]]], stats_key: str,
                       now: datetime, settings: Settings, kind: str = MARKETING) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    facts = await facts_of(ctx["redis_data"], sorted({cid for _, cid, _, _ in jobs}), now, settings) if jobs else {}
    for delivery_id, cid, key, values in jobs:
        async def text(key: str = key, values: Dict[str, str] = values) -> str:
            return marketing_text(key, **values)

        result = await dispatch.deliver(ctx["redis_data"], ctx["sender"], delivery_id=delivery_id, stats_key=stats_key,
                                        cid=cid, facts=facts[cid], kind=kind, text_for=text, now=now,
                                        settings=settings)
        counts[result.state] = counts.get(result.state, 0) + 1
    return counts
