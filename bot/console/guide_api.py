"""The guide console's API (issue 12, item 7): the conversations waiting for a guide,
the guide's own, and (ops, admin) all of them; one conversation with its transcript
and the customer's profile; take, reply, transfer, end; a live feed (SSE).

Every request needs a staff session (bot/console/staff.py); every state change its
CSRF token. A guide sees a waiting conversation's summary (to take it) and the
conversations they hold, nothing else: another guide's conversation is a 403.
What a guide does here goes through the same Lua steps as the WeCom app commands
(common/handoff_routing.py, common/handoff_session.py), so the customer, the bot
and the other guides see one state.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.services import tags as tag_store
from actions.services.catalog import catalog as load_catalog
from bot.console.guide_feed import ChangeFeed
from bot.console.ops_common import OPS_ROLES, api_errors, json_body
from bot.console.staff import API_HEADERS, Refusal, Session, authorise
from bot.handoff.rasa_events import RasaEvents
from bot.redis_conn import get_redis
from common import handoff_routing as routing
from common import handoff_session as session_store
from common import handoff_stats

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
QUICK_REPLIES = routing.ROOT / "data" / "handoff" / "quick_replies.yml"
MAX_REPLY_CHARS = 2000
HEARTBEAT_S = 15.0
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def is_ops(who: Session) -> bool:
    return who.account.role in OPS_ROLES


def my_guide(who: Session, roster: routing.Roster) -> Optional[routing.Guide]:
    return roster.guide(who.account.guide_userid) if who.account.guide_userid else None


def summary(request_id: str, details: Dict[str, str], roster: routing.Roster) -> Dict[str, Any]:
    context = json.loads(details.get("context") or "{}")
    guide = roster.guide(details.get("guide", ""))
    return {"id": request_id, "status": details.get("status", ""), "guide": details.get("guide", ""),
            "guide_name": guide.name if guide else "", "customer_name": context.get("name") or "顾客",
            "level": context.get("level", ""), "tags": context.get("tags") or [], "channel": details.get("channel", ""),
            "reason": details.get("reason", ""), "requested_at": details.get("requested_at", ""),
            "assigned_at": details.get("assigned_at", ""), "last_message_at": details.get("last_message_at", ""),
            "transfer_note": details.get("transfer_note", "")}


async def shown_tags(redis: Any, cid: str) -> List[Dict[str, str]]:
    catalog = load_catalog()
    return [{"id": t, "name": tag_store.display(catalog, t)} for t in sorted(await tag_store.tags_of(redis, cid))]


async def past_handoffs(redis: Any, cid: str, current: str, roster: routing.Roster) -> List[Dict[str, str]]:
    """The customer's earlier handoffs, newest first: when, why, who, how it ended."""
    past = []
    for request_id in reversed(await redis.lrange(routing.history_key(cid), -20, -1)):
        if str(request_id) == current:
            continue
        details = await session_store.details(redis, str(request_id))
        if details:
            guide = roster.guide(details.get("guide", ""))
            past.append({"id": str(request_id), "requested_at": details.get("requested_at", ""),
                         "reason": details.get("reason", ""), "guide_name": guide.name if guide else "",
                         "status": details.get("status", ""), "outcome": details.get("outcome", "")})
    return past


def may_open(who: Session, details: Dict[str, str]) -> bool:
    return is_ops(who) or (bool(who.account.guide_userid) and details.get("guide") == who.account.guide_userid
                           and details.get("status") == "assigned")


def load_quick_replies(path: Path = QUICK_REPLIES) -> List[Dict[str, str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return [{"title": str(item.get("title") or ""), "text": str(item.get("text") or "")}
            for item in (raw or {}).get("quick_replies") or [] if item.get("text")]


def guide_blueprint(feed: Optional[ChangeFeed] = None) -> Blueprint:
    bp = Blueprint("guide_console")
    feed = feed or ChangeFeed(get_redis)

    api_errors(bp, "Guide API", "handoff storage unavailable")

    def rasa(request: Request) -> RasaEvents:
        return RasaEvents(base_url=request.app.ctx.rasa_url, token=request.app.ctx.rasa_token)

    async def held_by_me(request: Request, request_id: str) -> "tuple[Session, routing.Guide, Dict[str, str]]":
        who = await authorise(request)
        roster = routing.current_roster()
        guide = my_guide(who, roster)
        details = await session_store.details(get_redis(), request_id)
        if not details:
            raise Refusal(404, "no such conversation")
        if guide is None or details.get("guide") != guide.userid or details.get("status") != "assigned":
            raise Refusal(403, "this conversation is not yours")
        return who, guide, details

    @bp.get("/guide/")
    async def page(_: Request) -> HTTPResponse:
        return response.html((STATIC_DIR / "guide.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)

    @bp.get("/api/guide/conversations")
    async def conversations(request: Request) -> HTTPResponse:
        who = await authorise(request)
        view = request.args.get("view", "mine")
        redis, roster = get_redis(), routing.current_roster()
        if view == "waiting":
            ids = list(await redis.zrange(routing.QUEUE, 0, 199))
        elif view == "all":
            if not is_ops(who):
                raise Refusal(403, "only ops see every conversation")
            ids = list(await redis.zrange(routing.QUEUE, 0, 199)) + sorted(await redis.smembers(routing.ASSIGNED))
        else:
            ids = sorted(await redis.smembers(routing.ASSIGNED))
        found = []
        for request_id in ids:
            details = await session_store.details(redis, str(request_id))
            if not details:
                continue
            if view == "mine" and details.get("guide") != who.account.guide_userid:
                continue
            found.append(summary(str(request_id), details, roster))
        return response.json({"view": view, "conversations": found}, headers=API_HEADERS, ensure_ascii=False)

    @bp.get("/api/guide/conversations/<request_id:int>")
    async def conversation(request: Request, request_id: int) -> HTTPResponse:
        who = await authorise(request)
        redis, roster = get_redis(), routing.current_roster()
        details = await session_store.details(redis, str(request_id))
        if not details:
            raise Refusal(404, "no such conversation")
        if not may_open(who, details):
            raise Refusal(403, "this conversation is not yours")
        before = await rasa(request).recent_lines(details.get("sender", ""), limit=30)
        during = await session_store.messages(redis, str(request_id))
        cid = details.get("customer", "")
        profile = {k: v for k, v in (await redis.hgetall(routing.profile_key(cid))).items()
                   if k in ("name", "level", "points", "last_checkin_at", "first_channel", "guide")}
        coupons = await redis.hlen(f"{routing.CUSTOMER_PREFIX}{cid}:coupons")
        return response.json({
            **summary(str(request_id), details, roster), "profile": profile, "coupons": coupons,
            "tags": await shown_tags(redis, cid), "past": await past_handoffs(redis, cid, str(request_id), roster),
            "before": [{"who": "customer" if line["who"] == "user" else "bot", "text": line["text"]} for line in before],
            "messages": during,
        }, headers=API_HEADERS, ensure_ascii=False)

    @bp.post("/api/guide/conversations/<request_id:int>/take")
    async def take(request: Request, request_id: int) -> HTTPResponse:
        who = await authorise(request, ("guide",))
        roster = routing.current_roster()
        guide = my_guide(who, roster)
        if guide is None:
            raise Refusal(403, "this account is not a guide of the roster")
        verdict = await routing.take(get_redis(), roster, guide, str(request_id), utc_now())
        if verdict != "ok":
            raise Refusal(409, {"not_waiting": "no longer waiting", "full": "you are at capacity or off duty"}[verdict])
        return response.json({"taken": str(request_id)}, headers=API_HEADERS)

    @bp.post("/api/guide/conversations/<request_id:int>/reply")
    async def reply(request: Request, request_id: int) -> HTTPResponse:
        _, guide, _ = await held_by_me(request, str(request_id))
        text = (json_body(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise Refusal(400, "text must be a non-empty string")
        appended = await session_store.append(get_redis(), routing.current_roster(), str(request_id),
                                              session_store.GUIDE, text.strip()[:MAX_REPLY_CHARS], utc_now(),
                                              guide=guide.userid)
        if not appended.ok:
            raise Refusal(409, f"not sent: {appended.refused}")
        return response.json({"sent": appended.index}, headers=API_HEADERS)

    @bp.post("/api/guide/conversations/<request_id:int>/transfer")
    async def transfer(request: Request, request_id: int) -> HTTPResponse:
        _, guide, _ = await held_by_me(request, str(request_id))
        body = json_body(request)
        roster = routing.current_roster()
        to = roster.guide(str(body.get("to") or ""))
        if to is None:
            raise Refusal(400, "to must be a guide of the roster")
        note = body.get("note") if isinstance(body.get("note"), str) else ""
        verdict = await routing.transfer(get_redis(), roster, guide, to, str(request_id), utc_now(), note)
        if verdict != "ok":
            raise Refusal(409, {"same": "that is you", "full": f"{to.name} is at capacity or off duty",
                                "not_yours": "this conversation is not yours"}[verdict])
        return response.json({"transferred_to": to.userid}, headers=API_HEADERS)

    @bp.post("/api/guide/conversations/<request_id:int>/end")
    async def end(request: Request, request_id: int) -> HTTPResponse:
        _, guide, _ = await held_by_me(request, str(request_id))
        await routing.free_and_offer(get_redis(), routing.current_roster(), guide, utc_now(),
                                     freed_request=str(request_id), outcome="guide_ended")
        return response.json({"ended": str(request_id)}, headers=API_HEADERS)

    @bp.post("/api/guide/conversations/<request_id:int>/tags")
    async def change_tags(request: Request, request_id: int) -> HTTPResponse:
        """The holder adds or removes the customer's tags; each change lands in the tag log with who did it."""
        who, _, details = await held_by_me(request, str(request_id))
        body = json_body(request)
        add, remove = body.get("add") or [], body.get("remove") or []
        if not all(isinstance(t, str) for t in [*add, *remove]):
            raise Refusal(400, "add and remove must be lists of tag ids")
        catalog = load_catalog()
        unknown = [t for t in [*add, *remove] if t not in catalog.tags]
        if unknown:
            raise Refusal(400, f"unknown tags: {', '.join(unknown)}")
        changed = await tag_store.change(get_redis(), catalog, details.get("customer", ""), add=add, remove=remove,
                                         by=f"guide:{who.account.username}", reason="guide console", now=utc_now())
        return response.json({"changed": changed, "tags": await shown_tags(get_redis(), details.get("customer", ""))},
                             headers=API_HEADERS, ensure_ascii=False)

    @bp.get("/api/guide/tags")
    async def tag_catalogue(request: Request) -> HTTPResponse:
        await authorise(request)
        catalog = load_catalog()
        return response.json({"tags": [{"id": t, "name": tag_store.display(catalog, t)} for t in catalog.tags]},
                             headers=API_HEADERS, ensure_ascii=False)

    @bp.get("/api/guide/service-levels")
    async def service_levels(request: Request) -> HTTPResponse:
        """Ops: waiting now, time to a guide's first reply (median, p90), abandoned, per guide."""
        await authorise(request, OPS_ROLES)
        try:
            hours = max(0.0, float(request.args.get("hours", "24")))
        except ValueError:
            raise Refusal(400, "hours must be a number")
        since = datetime.fromtimestamp(utc_now().timestamp() - hours * 3600, timezone.utc) if hours else None
        levels = await handoff_stats.service_levels(get_redis(), since)
        roster = routing.current_roster()
        for userid, figures in levels["per_guide"].items():
            guide = roster.guide(userid)
            figures["name"] = guide.name if guide else userid
        return response.json({"hours": hours, **levels}, headers=API_HEADERS, ensure_ascii=False)

    @bp.get("/api/guide/guides")
    async def guides(request: Request) -> HTTPResponse:
        await authorise(request)
        roster, now = routing.current_roster(), utc_now()
        loads = await get_redis().hgetall(routing.LOAD)
        on_duty = {g.userid for g in roster.on_duty(now)}
        return response.json({"guides": [
            {"userid": g.userid, "name": g.name, "group": g.group, "capacity": g.capacity,
             "load": int(loads.get(g.userid) or 0), "on_duty": g.userid in on_duty} for g in roster.guides]},
            headers=API_HEADERS, ensure_ascii=False)

    @bp.get("/api/guide/quick-replies")
    async def quick_replies(request: Request) -> HTTPResponse:
        await authorise(request)
        return response.json({"quick_replies": load_quick_replies()}, headers=API_HEADERS, ensure_ascii=False)

    @bp.get("/api/guide/events")
    async def events(request: Request) -> None:
        """Server-sent events: `{id, kind}` whenever a conversation changes; the page re-reads
        what it shows (each read is authorised), so the feed itself carries no customer data."""
        await authorise(request)
        stream = await request.respond(content_type="text/event-stream",
                                       headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        queue = feed.subscribe()
        try:
            await stream.send(": connected\n\n")
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    await stream.send(": ping\n\n")
                    continue
                await stream.send(f"data: {json.dumps(change)}\n\n")
        finally:
            feed.unsubscribe(queue)

    @bp.after_server_stop
    async def stop_feed(*_: Any) -> None:
        await feed.stop()

    return bp
