"""Console HTTP API for the unanswered-questions inbox (issue 4).

Reads Redis directly through actions/faq/inbox_store.py (redis-py only: no
model, no torch in the console). Register in bot/console/app.py:

    from bot.console.inbox_api import inbox_blueprint
    app.blueprint(inbox_blueprint())

    GET  /api/inbox/groups?status=open|handled&limit=50&offset=0
    GET  /api/inbox/groups/<gid>
    POST /api/inbox/groups/<gid>/handled   {"by": "amy", "note": "FAQ added"}
    GET  /api/inbox/recent?limit=50

Ops only: every request needs `Authorization: Bearer $CONSOLE_OPS_TOKEN`.
The token is its own secret (generated into .env like RASA_TOKEN): RASA_TOKEN
is not accepted, and neither is a token in the URL (`?token=` ends up in proxy
logs and browser history) -- such a request gets 400 so the caller learns why.
No token configured: the API answers 503 rather than being open.
"""
from __future__ import annotations

import hmac
import logging
import os
from typing import Optional

import redis.asyncio as aioredis
from common.redis_settings import UNAVAILABLE
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.redis_conn import get_redis
from common import inbox_store

logger = logging.getLogger(__name__)
MAX_LIMIT = 200


def _expected_token(explicit: Optional[str]) -> str:
    return explicit if explicit is not None else os.environ.get("CONSOLE_OPS_TOKEN", "").strip()


def _presented_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(request.args.get(name, default))))
    except ValueError:
        return default


def inbox_blueprint(redis_url: Optional[str] = None, token: Optional[str] = None) -> Blueprint:
    bp = Blueprint("faq_inbox", url_prefix="/api/inbox")

    def client() -> aioredis.Redis:
        return get_redis(redis_url)

    @bp.middleware("request")
    async def authorise(request: Request) -> Optional[HTTPResponse]:
        expected = _expected_token(token)
        if not expected:
            return response.json({"error": "inbox API disabled: set CONSOLE_OPS_TOKEN"}, status=503)
        if "token" in request.args:
            logger.warning("Inbox API: refused %s %s from %s: token in the URL", request.method, request.path, request.ip)
            return response.json({"error": "send the token as 'Authorization: Bearer', never in the URL"}, status=400)
        presented = _presented_token(request)
        if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
            logger.warning("Inbox API: refused %s %s from %s: %s", request.method, request.path, request.ip,
                           "wrong token" if presented else "no bearer token")
            return response.json({"error": "unauthorised"}, status=401)
        return None

    @bp.exception(*UNAVAILABLE)
    async def redis_down(request: Request, error: Exception) -> HTTPResponse:
        logger.error("Inbox API: Redis unavailable (%s)", type(error).__name__)
        return response.json({"error": "inbox storage unavailable"}, status=503)

    @bp.get("/groups")
    async def groups(request: Request) -> HTTPResponse:
        status = request.args.get("status", "open")
        if status not in inbox_store.STATUSES:
            return response.json({"error": f"status must be one of {list(inbox_store.STATUSES)}"}, status=400)
        listing = await inbox_store.list_groups(
            client(), status, _int_arg(request, "limit", 50, 1, MAX_LIMIT), _int_arg(request, "offset", 0, 0, 10**6)
        )
        return response.json(listing, ensure_ascii=False)

    @bp.get("/groups/<gid:int>")
    async def group(request: Request, gid: int) -> HTTPResponse:
        found = await inbox_store.get_group(client(), str(gid), samples=20)
        return response.json(found, ensure_ascii=False) if found else response.json({"error": "no such group"}, status=404)

    @bp.post("/groups/<gid:int>/handled")
    async def handled(request: Request, gid: int) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        ok = await inbox_store.mark_handled(client(), str(gid), str(body.get("by", "")), str(body.get("note", "")))
        if not ok:
            return response.json({"error": "no such group"}, status=404)
        return response.json(await inbox_store.get_group(client(), str(gid), samples=0), ensure_ascii=False)

    @bp.get("/recent")
    async def recent(request: Request) -> HTTPResponse:
        items = await inbox_store.recent_messages(client(), _int_arg(request, "limit", 50, 1, MAX_LIMIT))
        return response.json({"messages": items}, ensure_ascii=False)

    return bp
