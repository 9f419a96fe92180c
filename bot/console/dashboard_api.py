"""The ops console's conversation review and dashboard API (issue 13). Register in
bot/console/app.py:

    from bot.console.dashboard_api import mount_vendor, ops_insights_blueprint
    app.blueprint(ops_insights_blueprint())
    mount_vendor(app)   # GET /vendor/echarts.min.js (node_modules, installed by scripts/setup.sh)

    GET /api/ops/review?q=&intent=&channel=&from=YYYY-MM-DD&to=YYYY-MM-DD&low=1&limit=50&before=<id>
        turns of the turn log (common/traffic_log.py), newest first, every filter given matching:
        q a piece of the (masked) text, intent an intent or a retrieval key (`faq/shipping_time`),
        channel a sender namespace (`wechat_mp`, `wecom_kf`, `web`, …), from/to days (Asia/Shanghai),
        low=1 only fallback / low-confidence turns. At most 20,000 log entries are read per
        request; `next_before` (a stream id, or null at the end) asks for the next page.
        -> {"turns": [turn], "next_before": id|null, "scanned": n}
        turn = {id, time, day, sender, channel, text, intent, confidence, key, key_confidence,
                low, actions, message_id}
    GET /api/ops/review/conversation/<sender id>?before=<id>
        that sender's turns, oldest first (the newest 200 within one bounded read)
        -> {"sender": id, "turns": [turn], "next_before": id|null, "scanned": n}
    GET /api/ops/dashboard?days=30      (1-120 days up to today, Asia/Shanghai)
        -> see `dashboard`; every series is a list aligned with "days"

Every request needs a staff session of an ops or admin account (bot/console/staff.py):
no session 401, a guide 403. Read-only: GETs need no CSRF token. No KEYS or SCAN:
the turn log is a stream read in bounded ranges, handoff requests are read by id
from the newest down (`{brand}:ho:seq`), campaigns and coupon types come from the
catalogue (data/catalog/).
"""
from __future__ import annotations

import logging
import re
import urllib.parse
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any, Dict, List, Optional

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.services.catalog import catalog as load_catalog
from bot.console.staff import API_HEADERS, Refusal, authorise
from bot.redis_conn import get_redis
from common import handoff_routing as routing
from common import handoff_stats, inbox_store, traffic_log
from common.key_tags import MARKETING
from common.redis_settings import UNAVAILABLE

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ECHARTS_FILE = ROOT / "node_modules" / "echarts" / "dist" / "echarts.min.js"
ECHARTS_URL = "/vendor/echarts.min.js"
OPS_ROLES = ("ops", "admin")
MAX_LIMIT = 200
MAX_DAYS = 120
TOP = 10
HANDOFF_BATCH = 500
HANDOFF_READ_MAX = 5_000  # request hashes one dashboard reads at most (newest first)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NULLS = {
    "coupons.used": "no source: coupons are redeemed in the shop's order system, which reports nothing to "
                    "this project (no key records a redemption)",
}
NOTES = {
    "checkin.per_day": "check-ins counted per day by checkin.lua since issue 13; earlier days read 0",
    "lotteries.draws": "draws counted per day by draw.lua since issue 13; earlier days read 0",
    "messages": "turns recorded by the tracker store since issue 13 (common/traffic_log.py)",
    "handoffs": "requests read newest first, at most 5,000 per dashboard (complete=false when cut)",
}


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(request.args.get(name, default))))
    except ValueError:
        raise Refusal(400, f"{name} must be a number")


def _str_arg(request: Request, name: str, longest: int = 80) -> str:
    value = (request.args.get(name) or "").strip()
    if len(value) > longest:
        raise Refusal(400, f"{name}: at most {longest} characters")
    return value


def _day_arg(request: Request, name: str) -> Optional[str]:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    try:
        if not _DAY.match(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise Refusal(400, f"{name} must be a day, YYYY-MM-DD")
    return value


def _before_arg(request: Request) -> Optional[str]:
    value = (request.args.get("before") or "").strip()
    if value and not traffic_log.valid_id(value):
        raise Refusal(400, "before must be a turn id (from next_before)")
    return value or None


def _json(body: Dict[str, Any]) -> HTTPResponse:
    return response.json(body, headers=API_HEADERS, ensure_ascii=False)


def ops_insights_blueprint() -> Blueprint:
    bp = Blueprint("ops_insights", url_prefix="/api/ops")

    @bp.exception(Refusal)
    async def refused(request: Request, error: Refusal) -> HTTPResponse:
        logger.warning("Ops insights API: %s %s refused (%d): %s", request.method, request.path, error.status,
                       error.reason)
        return response.json({"error": error.reason}, status=error.status, headers=API_HEADERS)

    @bp.exception(*UNAVAILABLE)
    async def redis_down(request: Request, error: Exception) -> HTTPResponse:
        logger.error("Ops insights API: Redis unavailable (%s)", type(error).__name__)
        return response.json({"error": "storage unavailable"}, status=503, headers=API_HEADERS)

    @bp.get("/review")
    async def review(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        day_from, day_to = _day_arg(request, "from"), _day_arg(request, "to")
        if day_from and day_to and day_from > day_to:
            raise Refusal(400, "from must not be after to")
        found = await traffic_log.search(
            get_redis(), q=_str_arg(request, "q", 100), intent=_str_arg(request, "intent"),
            channel=_str_arg(request, "channel"), day_from=day_from, day_to=day_to,
            low=request.args.get("low", "") in ("1", "true", "yes"),
            limit=_int_arg(request, "limit", 50, 1, MAX_LIMIT), before=_before_arg(request))
        return _json(found)

    @bp.get("/review/conversation/<sender>")
    async def conversation(request: Request, sender: str) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        sender = urllib.parse.unquote(sender)
        if not sender or len(sender) > 200:
            raise Refusal(400, "sender must be a sender id")
        found = await traffic_log.search(get_redis(), sender=sender, limit=MAX_LIMIT, before=_before_arg(request))
        return _json({"sender": sender, "turns": list(reversed(found["turns"])),
                      "next_before": found["next_before"], "scanned": found["scanned"]})

    @bp.get("/dashboard")
    async def dashboard_view(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        return _json(await dashboard(get_redis(), _int_arg(request, "days", 30, 1, MAX_DAYS)))

    return bp


def mount_vendor(app: Sanic) -> None:
    """Serve ECharts (node_modules/echarts/dist/echarts.min.js, `npm ci` in scripts/setup.sh)
    at /vendor/echarts.min.js, same origin, so the ops page keeps `script-src 'self'`."""

    @app.route(ECHARTS_URL, methods=["GET", "HEAD"], name="vendor_echarts")
    async def echarts(_: Request) -> HTTPResponse:
        if not ECHARTS_FILE.is_file():
            return response.text("ECharts is not installed: run `make setup` (npm ci)", status=404)
        return await response.file(str(ECHARTS_FILE), mime_type="application/javascript; charset=utf-8",
                                   headers={"Cache-Control": "public, max-age=86400",
                                            "X-Content-Type-Options": "nosniff"})


# --- the dashboard -------------------------------------------------------------------

async def dashboard(redis: Any, days: int, until: Optional[date] = None) -> Dict[str, Any]:
    """Everything the ops dashboard charts, for the `days` days up to `until` (today)."""
    day_list = traffic_log.last_days(days, until)
    counted = await traffic_log.days(redis, day_list)
    totals: Counter = Counter()
    for day in counted:
        totals.update(day["counters"])
    channels = sorted({field[4:] for field in totals if field.startswith("msg:")})
    messages = [d["counters"].get("msg", 0) for d in counted]
    low = [d["counters"].get("low", 0) for d in counted]
    keys = {field[4:]: n for field, n in totals.items() if field.startswith("key:")}
    intents = {field[7:]: n for field, n in totals.items() if field.startswith("intent:")}
    return {
        "days": day_list,
        "timezone": "Asia/Shanghai",
        "messages": {
            "total": messages,
            "by_channel": {ch: [d["counters"].get(f"msg:{ch}", 0) for d in counted] for ch in channels},
            "senders": [d["senders"] for d in counted],  # distinct sender ids per day (HyperLogLog, ±1%)
            "period_total": sum(messages),
        },
        "fallback": {
            "low": low,
            "rate": [round(n / m, 4) if m else None for n, m in zip(low, messages)],
            "by_channel": {ch: [d["counters"].get(f"low:{ch}", 0) for d in counted] for ch in channels},
            "period_rate": round(sum(low) / sum(messages), 4) if sum(messages) else None,
            "threshold": traffic_log.LOW_CONFIDENCE,
        },
        "top_faq": _top({k: n for k, n in keys.items() if k.startswith("faq/")}),
        "top_chitchat": _top({k: n for k, n in keys.items() if k.startswith("chitchat/")}),
        "top_intents": _top(intents),
        "unanswered": await _unanswered(redis),
        "handoffs": await handoff_summary(redis, day_list),
        **await marketing(redis, day_list),
        "nulls": NULLS,
        "notes": NOTES,
    }


def _top(counts: Dict[str, int], n: int = TOP) -> List[Dict[str, Any]]:
    return [{"key": key, "count": count} for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


async def _unanswered(redis: Any) -> Dict[str, Any]:
    listed = await inbox_store.list_groups(redis, "open", limit=TOP, samples=0)
    return {"open_groups": listed["total"],
            "groups": [{"id": g["id"], "label": g["label"], "count": g["count"], "last_ts": g["last_ts"],
                        "top_guess": g["top_guess"]} for g in listed["groups"]]}


def _levels(requests: List[Dict[str, str]]) -> Dict[str, Any]:
    """common/handoff_stats.py's service levels, under the dashboard's names."""
    found = handoff_stats.levels(requests)
    return {"requests": found["requests"], "answered": found["answered"],
            "median_wait_s": found["median_first_reply_s"], "p90_wait_s": found["p90_first_reply_s"],
            "abandoned": found["abandoned"]}


def _local_day(stamp: str) -> Optional[str]:
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=traffic_log.TZ)
    return moment.astimezone(traffic_log.TZ).date().isoformat()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def recent_requests(redis: Any, since_day: str) -> "tuple[List[Dict[str, str]], bool]":
    """Handoff requests made on `since_day` or later, read by id from the newest down
    (ids grow with time: `{brand}:ho:seq`), in pipelined batches; (requests, complete)."""
    newest = int(await redis.get(routing.REQUEST_SEQ) or 0)
    found: List[Dict[str, str]] = []
    request_id, read = newest, 0
    while request_id >= 1:
        if read >= HANDOFF_READ_MAX:
            return found, False
        batch = list(range(request_id, max(0, request_id - HANDOFF_BATCH), -1))
        pipe = redis.pipeline(transaction=False)
        for rid in batch:
            pipe.hgetall(routing.request_key(str(rid)))
        replies = await pipe.execute()
        read += len(batch)
        request_id -= len(batch)
        older = False
        for rid, raw in zip(batch, replies):
            if not raw:
                continue  # erased (scripts/ops.py erase)
            details = {_text(k): _text(v) for k, v in raw.items()}
            day = _local_day(details.get("requested_at", ""))
            if day is None:
                continue
            if day < since_day:
                older = True
                continue
            found.append({**details, "id": str(rid), "day": day})
        if older:
            break
    return found, True


async def handoff_summary(redis: Any, day_list: List[str]) -> Dict[str, Any]:
    requests, complete = await recent_requests(redis, day_list[0])
    by_day: Dict[str, List[Dict[str, str]]] = {day: [] for day in day_list}
    by_guide: Dict[str, List[Dict[str, str]]] = {}
    for item in requests:
        if item["day"] in by_day:
            by_day[item["day"]].append(item)
        if item.get("guide"):
            by_guide.setdefault(item["guide"], []).append(item)
    daily = [_levels(by_day[day]) for day in day_list]
    pipe = redis.pipeline(transaction=False)
    pipe.zcard(routing.QUEUE)
    pipe.scard(routing.ASSIGNED)
    pipe.zrange(routing.QUEUE, 0, 0)
    waiting, held, oldest = await pipe.execute()
    oldest_wait = None
    if oldest:
        since = await redis.hget(routing.request_key(_text(oldest[0])), "requested_at")
        waited = handoff_stats.seconds_between(_text(since), datetime.now(traffic_log.TZ).isoformat()) if since else None
        oldest_wait = round(waited, 1) if waited is not None else None
    try:
        roster = routing.current_roster()
    except (OSError, ValueError):
        roster = None
    return {
        "waiting_now": int(waiting),
        "held_now": int(held),
        "oldest_waiting_s": oldest_wait,
        "period": {**_levels(requests),
                   "by_reason": dict(Counter(r.get("reason", "") for r in requests)),
                   "taken_back": sum(int(r.get("taken_back") or 0) for r in requests)},
        "per_day": {name: [d[name] for d in daily] for name in
                    ("requests", "answered", "median_wait_s", "p90_wait_s", "abandoned")},
        "per_guide": [{"guide": guide, "name": (roster.guide(guide).name if roster and roster.guide(guide) else guide),
                       **_levels(held_by)} for guide, held_by in sorted(by_guide.items())],
        "complete": complete,
    }


def _ints(values: List[Any]) -> List[int]:
    return [int(v or 0) for v in values]


async def marketing(redis: Any, day_list: List[str]) -> Dict[str, Any]:
    """Check-ins and draws per day, lottery stock and winners, coupons issued: one pipelined
    read of the `{brand}` keys the Lua steps write (docs/redis-schema.md)."""
    cat = load_catalog()
    ordinals = [date.fromisoformat(day).toordinal() for day in day_list]  # the campaigns' day numbers
    now = datetime.now(traffic_log.TZ)
    pipe = redis.pipeline(transaction=False)
    pipe.hmget(f"{MARKETING}chk:{cat.checkin.id}:stats:daily", ordinals)
    for lot in cat.lotteries:
        pipe.hmget(f"{MARKETING}lot:{lot.id}:stats:daily", ordinals)
        pipe.hgetall(f"{MARKETING}lot:{lot.id}:stock")
        pipe.llen(f"{MARKETING}lot:{lot.id}:winners")
    coupon_types = list(cat.coupons.values())
    for ctype in coupon_types:
        pipe.hlen(f"{MARKETING}cpn:{ctype.id}:issued")
        pipe.get(f"{MARKETING}cpn:{ctype.id}:granted")
        pipe.llen(f"{MARKETING}cpn:{ctype.id}:pool")
        pipe.scard(f"{MARKETING}cpn:{ctype.id}:parked")
    replies = iter(await pipe.execute())
    checkins = _ints(next(replies))
    lotteries = []
    for lot in cat.lotteries:
        draws, stock, winners = _ints(next(replies)), next(replies), next(replies)
        stock = {_text(k): int(v) for k, v in (stock or {}).items()}
        lotteries.append({
            "id": lot.id, "name": lot.name, "running": lot.running(now), "draws": draws,
            "period_draws": sum(draws), "winners_total": int(winners),
            "stock": [{"prize": p.id, "name": p.name, "kind": p.kind, "initial": p.stock,
                       "left": stock.get(p.id, p.stock)} for p in lot.prizes],
        })
    coupons = []
    for ctype in coupon_types:
        once, granted, pool, parked = next(replies), next(replies), next(replies), next(replies)
        coupons.append({
            "type": ctype.id, "name": ctype.name, "benefit": ctype.benefit, "source": ctype.source,
            "issued": int(once) + int(granted or 0), "issued_once": int(once), "issued_from_grants": int(granted or 0),
            "pool_left": int(pool) if ctype.source == "pool" else None, "parked_grants": int(parked),
            "used": None,
        })
    return {
        "checkin": {"id": cat.checkin.id, "name": cat.checkin.name, "per_day": checkins,
                    "period_total": sum(checkins)},
        "lotteries": lotteries,
        "coupons": {"types": coupons, "issued_total": sum(c["issued"] for c in coupons), "used_total": None},
    }
