"""The demo web chat: the page, the persona's public profile, and a chat API
that forwards to Rasa's REST webhook (and apologises in persona if Rasa is down)."""
from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from typing import Any, Dict, List

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.rasa_client import RasaUnavailable
from bot.persona import system_text
from common.privacy import mask_id

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Browser ids are random; a strict shape keeps them apart from WeChat ids.
_SENDER = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SENDER_PREFIX = "web-"
MAX_MESSAGE_CHARS = 2000  # Rasa's input guard cuts further; this only bounds the request
# The page loads only its own script, style and images: no inline code.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def render_page(profile: Dict[str, str]) -> str:
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for key in ("name", "brand", "avatar"):
        template = template.replace("{{%s}}" % key, html.escape(profile.get(key, ""), quote=True))
    return template


def bot_message(message: Dict[str, Any]) -> Dict[str, Any]:
    """Keep what the page renders: text, buttons (title/payload), image."""
    out: Dict[str, Any] = {}
    if isinstance(message.get("text"), str):
        out["text"] = message["text"]
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in message.get("buttons") or []
        if isinstance(b, dict)
    ]
    if buttons:
        out["buttons"] = buttons
    if isinstance(message.get("image"), str):
        out["image"] = message["image"]
    return out


def bad_request(reason: str) -> HTTPResponse:
    logger.warning("Web chat: request refused: %s", reason)
    return response.json({"error": reason}, status=400)


def webchat_blueprint() -> Blueprint:
    bp = Blueprint("webchat")

    @bp.get("/")
    async def index(request: Request) -> HTTPResponse:
        return response.html(request.app.ctx.page, headers=PAGE_HEADERS)

    @bp.get("/api/persona")
    async def persona(request: Request) -> HTTPResponse:
        return response.json(request.app.ctx.profile, ensure_ascii=False)

    @bp.post("/api/chat")
    async def chat(request: Request) -> HTTPResponse:
        try:
            payload = json.loads((request.body or b"").decode("utf-8", errors="replace"))
        except json.JSONDecodeError as error:
            return bad_request(f"malformed JSON body ({error})")
        if not isinstance(payload, dict):
            return bad_request("JSON body must be an object")
        sender, message = payload.get("sender"), payload.get("message")
        if not isinstance(sender, str) or not _SENDER.match(sender):
            return bad_request("sender must be 8-64 characters of A-Z a-z 0-9 _ -")
        if not isinstance(message, str):
            return bad_request("message must be a string")

        rasa_sender = SENDER_PREFIX + sender
        try:
            messages: List[Dict[str, Any]] = await request.app.ctx.rasa.send(
                rasa_sender, message[:MAX_MESSAGE_CHARS]
            )
        except RasaUnavailable as error:
            logger.warning("Web chat: Rasa unreachable for %s, apology sent: %s", mask_id(rasa_sender), error)
            apology = system_text("console_unreachable", request.app.ctx.persona)
            return response.json({"messages": [{"text": apology}], "degraded": True}, ensure_ascii=False)
        return response.json(
            {"messages": [bot_message(m) for m in messages], "degraded": False}, ensure_ascii=False
        )

    return bp
