"""The ops console's 触达 tab: segment pushes (千人千券) and prize shipping. Registered in
bot/console/app.py:

    app.blueprint(outbound_blueprint())

    GET  /api/ops/pushes                      {"pushes": [report]}, the newest 50 (bot/outbound/pushes.py)
    POST /api/ops/pushes/preview              {"segment": {...}} -> {"customers": n}
    POST /api/ops/pushes                      {name, text, segment, coupon?, at?, mass?} -> 201 {"push": id, "report": {...}}
                                              at: the brand's local time ("2026-12-03T10:00"), empty = now
    GET  /api/ops/pushes/<id>                 report
    POST /api/ops/pushes/<id>/cancel          {"cancelled": true|false}
    GET  /api/ops/coupon-types                coupon types, tags and tag groups for the form
    GET  /api/ops/claims?status=address_filled|shipped|awaiting_address
                                              parcel claims of that status, phone and address masked
    POST /api/ops/claims/<id>/ship            {carrier, tracking} -> actions/services/shipping.py

The same as scripts/push.py and `scripts/ops.py ship`, for ops without a terminal: the
console only writes the push record (the outbound worker plans and sends it) and marks
claims shipped (the winner's notice is queued in the same Lua step). Staff sessions only
(bot/console/staff.py): ops or admin, CSRF on writes. Claims are read by id
(`{brand}:claim:seq` is the newest), never with KEYS or SCAN.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.services import prizes, shipping
from actions.services.catalog import Catalog, catalog
from bot.console.ops_common import OPS_ROLES, api_errors, author_of, json_body, reply
from bot.console.staff import Refusal, Session, authorise
from bot.outbound import pushes
from bot.outbound.policy import Settings
from bot.outbound.segments import Segment
from bot.redis_conn import get_redis
from common.privacy import mask_address, mask_phone

logger = logging.getLogger(__name__)

RECENT = 50
CLAIM_BATCH = 500
CLAIMS_LIMIT = 500  # rows one list answers at most (the total says how many there are)
CLAIM_STATUSES = (prizes.ADDRESS_FILLED, prizes.SHIPPED, prizes.AWAITING_ADDRESS)
NAME_LIMIT = 60
MAX_ACTIVE_DAYS = 3650
LIST_FIELDS = ("any_tags", "all_tags", "none_tags", "levels")
SEGMENT_FIELDS = {"any_tags": "任一标签", "all_tags": "全部标签", "none_tags": "排除标签", "levels": "会员等级",
                  "active_within_days": "最近活跃天数"}
_PUSH_ID = re.compile(r"^p\d{1,12}$")
_CLAIM_ID = re.compile(r"^\d{1,12}$")
CLAIM_FIELDS = ("campaign", "prize", "won_at", *prizes.ADDRESS_FIELDS, "address_at", "carrier", "tracking",
                "shipped_at", "shipped_by")

# mark_shipped's answers: (HTTP status, what ops read)
SHIP_ANSWERS: Dict[str, Tuple[int, str]] = {
    shipping.SHIPPED: (200, "已标记发货，中奖人的发货通知已排队发送"),
    shipping.REPEAT: (200, "这个运单号已经登记过了，没有重复通知中奖人"),
    "shipped_before": (409, "这个奖品已经用另一个运单号发过货了，没有改动"),
    "not_ready": (409, "中奖人还没有填写收货地址，暂时不能发货"),
    "not_parcel": (409, "这个奖品不是实物，不需要发货"),
    "missing": (404, "没有这条中奖记录"),
    "bad_tracking": (400, "请填写快递公司；运单号须为 6-40 位字母、数字或短横线"),
}


# --------------------------------------------------------------------------- request parsing


def _text_field(body: Dict[str, Any], name: str, label: str) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal(400, f"{label}必须是文字")
    return value


def _string_list(value: Any, label: str) -> List[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise Refusal(400, f"人群条件「{label}」必须是标签的列表")
    return [v.strip() for v in value]


def segment_arg(raw: Any, cat: Catalog) -> Segment:
    """A Segment from the request, or Refusal 400 in Chinese: unknown fields, wrong types,
    tags the catalogue does not know (a typo would silently reach nobody)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Refusal(400, "人群条件（segment）必须是一个对象")
    unknown = sorted(set(raw) - set(SEGMENT_FIELDS))
    if unknown:
        raise Refusal(400, f"人群条件里有不认识的字段：{'、'.join(unknown)}")
    lists = {name: _string_list(raw.get(name), SEGMENT_FIELDS[name]) for name in LIST_FIELDS}
    days = raw.get("active_within_days") or 0
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_ACTIVE_DAYS:
        raise Refusal(400, f"「最近活跃天数」必须是 0 到 {MAX_ACTIVE_DAYS} 的整数")
    segment = Segment(active_within_days=days, **lists)
    unknown_tags = sorted({t for name in ("any_tags", "all_tags", "none_tags") for t in lists[name]} - set(cat.tags))
    if unknown_tags:
        raise Refusal(400, f"没有这些标签：{'、'.join(unknown_tags)}")
    unknown_levels = sorted(segment.level_tags() - set(cat.tags))
    if unknown_levels:
        raise Refusal(400, f"没有这些会员等级：{'、'.join(unknown_levels)}")
    return segment


def at_arg(value: Any, tz: str) -> Optional[float]:
    """The brand's local time ("2026-12-03T10:00") as epoch seconds; None (now) when empty.
    A time with an offset is taken as given, like scripts/push.py."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Refusal(400, "发送时间必须是形如 2026-12-03T10:00 的时间")
    try:
        local = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Refusal(400, f"看不懂这个发送时间：{value}（应形如 2026-12-03T10:00）") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(tz))
    return local.timestamp()


def _push_id(push_id: str) -> str:
    if not _PUSH_ID.match(push_id):
        raise Refusal(404, f"没有这次推送：{push_id}")
    return push_id


def _by(session: Session) -> str:
    return author_of(session.account)[0]


# --------------------------------------------------------------------------- claims


def campaign_name(cat: Catalog, campaign: str) -> str:
    lottery = cat.lottery(campaign)
    if lottery:
        return lottery.name
    return cat.checkin.name if campaign == cat.checkin.id else campaign


def claim_view(cat: Catalog, claim_id: str, raw: Dict[str, str], status: str) -> Dict[str, Any]:
    """One claim row for the page: personal data masked, shipping details when shipped."""
    claim = prizes.Claim(id=claim_id, customer="", campaign=raw.get("campaign") or "", prize=raw.get("prize") or "",
                         kind="physical", status=status, won_at=raw.get("won_at") or "", fields={})
    province, city = raw.get("address_province") or "", raw.get("address_city") or ""
    address = province + (city if city != province else "") + (raw.get("address_detail") or "")  # 上海市上海市 once
    view: Dict[str, Any] = {
        "id": claim_id, "status": status, "prize": claim.prize_name(cat), "campaign": claim.campaign,
        "campaign_name": campaign_name(cat, claim.campaign), "won_at": claim.won_at,
        "recipient_name": raw.get("recipient_name") or "", "recipient_phone": mask_phone(raw.get("recipient_phone") or ""),
        "address": mask_address(address), "address_at": raw.get("address_at") or "",
    }
    if status == prizes.SHIPPED:
        view.update({f: raw.get(f) or "" for f in ("carrier", "tracking", "shipped_at", "shipped_by")})
    return view


async def _statuses(redis: Any, ids: Sequence[str]) -> List[Tuple[Optional[str], Optional[str]]]:
    pipe = redis.pipeline(transaction=False)
    for claim_id in ids:
        pipe.hmget(f"{prizes.CLAIM_PREFIX}{claim_id}", "kind", "status")
    return [(kind, status) for kind, status in await pipe.execute()]


async def _details(redis: Any, ids: Sequence[str]) -> List[Dict[str, str]]:
    found: List[Dict[str, str]] = []
    for start in range(0, len(ids), CLAIM_BATCH):
        pipe = redis.pipeline(transaction=False)
        for claim_id in ids[start:start + CLAIM_BATCH]:
            pipe.hmget(f"{prizes.CLAIM_PREFIX}{claim_id}", CLAIM_FIELDS)
        found.extend(dict(zip(CLAIM_FIELDS, values)) for values in await pipe.execute())
    return found


async def parcel_claims(redis: Any, cat: Catalog, status: str, limit: int = CLAIMS_LIMIT) -> Dict[str, Any]:
    """Parcel claims of `status`: ids 1..`{brand}:claim:seq` read in pipelines of 500, first
    only kind and status, then the rows shown. Waiting ones oldest first (ship in order),
    shipped ones newest first."""
    top = int(await redis.get(prizes.CLAIM_SEQ) or 0)
    matching: List[str] = []
    for start in range(1, top + 1, CLAIM_BATCH):
        ids = [str(n) for n in range(start, min(top, start + CLAIM_BATCH - 1) + 1)]
        for claim_id, (kind, found) in zip(ids, await _statuses(redis, ids)):
            if kind == "physical" and found == status:
                matching.append(claim_id)
    if status == prizes.SHIPPED:
        matching.reverse()
    shown = matching[:limit]
    rows = [claim_view(cat, cid, raw, status) for cid, raw in zip(shown, await _details(redis, shown))]
    return {"status": status, "claims": rows, "total": len(matching)}


# --------------------------------------------------------------------------- the blueprint


def outbound_blueprint() -> Blueprint:
    bp = Blueprint("ops_outbound", url_prefix="/api/ops")
    api_errors(bp, "Outbound API", storage="触达数据暂时读不到（存储不可用），请稍后再试")

    @bp.get("/pushes")
    async def recent(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        redis = get_redis()
        reports = [await pushes.report(redis, push_id) for push_id in await pushes.recent(redis, RECENT)]
        return reply({"pushes": [r for r in reports if r]})

    @bp.post("/pushes/preview")
    async def preview(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        segment = segment_arg(json_body(request).get("segment"), catalog())
        count = await pushes.preview(get_redis(), segment, datetime.now(timezone.utc))
        return reply({"customers": count, "segment": segment.to_dict()})

    @bp.post("/pushes")
    async def create(request: Request) -> HTTPResponse:
        session = await authorise(request, roles=OPS_ROLES)
        body, cat = json_body(request), catalog()
        name = _text_field(body, "name", "推送名称").strip()
        text = _text_field(body, "text", "推送内容")
        coupon = _text_field(body, "coupon", "优惠券").strip()
        segment = segment_arg(body.get("segment"), cat)
        at = at_arg(body.get("at"), Settings.from_env().timezone)
        mass_too = body.get("mass") is True  # also a guide-confirmed 企业群发 outside the window
        problems = pushes.validate(name, text, coupon, cat.coupons, mass_too)
        if len(name) > NAME_LIMIT:
            problems.append(f"name: 推送名称最多 {NAME_LIMIT} 字")
        if problems:
            return reply({"error": "推送没有创建：" + "；".join(p.split(": ", 1)[-1] for p in problems),
                          "problems": problems}, 400)
        redis = get_redis()
        push_id = await pushes.create(redis, name=name, text=text.strip(), segment=segment, coupon=coupon, at=at,
                                      by=_by(session), mass=mass_too)
        logger.info("Outbound API: push %s created by %s", push_id, session.account.username)
        return reply({"push": push_id, "report": await pushes.report(redis, push_id)}, 201)

    @bp.get("/pushes/<push_id>")
    async def report(request: Request, push_id: str) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        found = await pushes.report(get_redis(), _push_id(push_id))
        if found is None:
            raise Refusal(404, f"没有这次推送：{push_id}")
        return reply(found)

    @bp.post("/pushes/<push_id>/cancel")
    async def cancel(request: Request, push_id: str) -> HTTPResponse:
        session = await authorise(request, roles=OPS_ROLES)
        redis = get_redis()
        if await pushes.get(redis, _push_id(push_id)) is None:
            raise Refusal(404, f"没有这次推送：{push_id}")
        cancelled = await pushes.cancel(redis, push_id)
        if cancelled:
            logger.info("Outbound API: push %s cancelled by %s", push_id, session.account.username)
        return reply({"push": push_id, "cancelled": cancelled, "report": await pushes.report(redis, push_id)})

    @bp.get("/coupon-types")
    async def coupon_types(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        cat = catalog()
        return reply({
            "coupon_types": [{"id": c.id, "name": c.name, "benefit": c.benefit} for c in cat.coupons.values()],
            "tags": [{"id": t.id, "name": t.name, "group": t.group} for t in cat.tags.values()],
            "groups": [{"id": g.id, "name": g.name} for g in cat.groups.values()],
            "timezone": Settings.from_env().timezone,
            "text_limit": pushes.TEXT_LIMIT,
        })

    @bp.get("/claims")
    async def claims(request: Request) -> HTTPResponse:
        await authorise(request, roles=OPS_ROLES)
        status = (request.args.get("status") or prizes.ADDRESS_FILLED).strip()
        if status not in CLAIM_STATUSES:
            raise Refusal(400, f"status 只能是 {'、'.join(CLAIM_STATUSES)}")
        return reply(await parcel_claims(get_redis(), catalog(), status))

    @bp.post("/claims/<claim_id>/ship")
    async def ship(request: Request, claim_id: str) -> HTTPResponse:
        session = await authorise(request, roles=OPS_ROLES)
        body = json_body(request)
        carrier, tracking = _text_field(body, "carrier", "快递公司"), _text_field(body, "tracking", "运单号")
        if not _CLAIM_ID.match(claim_id):
            result = "missing"
        else:
            result = await shipping.mark_shipped(get_redis(), catalog(), claim_id, carrier, tracking,
                                                 datetime.now(timezone.utc), _by(session))
        status, message = SHIP_ANSWERS.get(result, (500, f"发货没有成功（{result}）"))
        logger.info("Outbound API: claim %s ship by %s: %s", claim_id, session.account.username, result)
        body = {"claim": claim_id, "result": result, "message": message}
        return reply(body if status == 200 else {**body, "error": message}, status)

    return bp
