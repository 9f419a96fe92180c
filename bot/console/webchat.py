"""The demo web chat: the page, the persona's public profile, the web session,
and a chat API that forwards to Rasa's REST webhook (and apologises in persona
if Rasa is down).

Identity is the console's: `GET /api/session` issues a signed HttpOnly cookie
(bot.console.web_session) and returns the CSRF token the page sends with every
`POST /api/chat`; the Rasa sender is `web:<session id>`, whatever the client
sends. The page sends only what was typed or the clicked option's title: the
option mapping ("2" → the second button) happens in the REST channel
(bot.channels.options). New sessions and messages are capped per client IP
(bot.console.limits); a visitor over a cap gets a 429 with a persona text and
nothing reaches Rasa.
"""
from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.limits import IpLimiter, caps_from_env, client_ip, mask_ip, trusted_proxies
from bot.console.rasa_client import RasaUnavailable
from bot.console.web_session import COOKIE_NAME, CSRF_HEADER, WebSessions
from common import web_mailbox
from bot.persona import Persona, load_facts, load_persona, system_text
from bot.redis_conn import get_redis
from common import sender as senders
from common.privacy import mask_id

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
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
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def render_page(profile: Dict[str, str]) -> str:
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for key in ("name", "brand", "avatar"):
        template = template.replace("{{%s}}" % key, html.escape(profile.get(key, ""), quote=True))
    return template


class LivePersona:
    """The persona the web chat page shows, as the bot speaks it now: bot.persona
    re-reads an edited persona or facts file (the ops console's 品牌与人设 tab), so
    the page, /api/persona and the apologies follow without a console restart."""

    def __init__(self, persona_id: Optional[str] = None) -> None:
        self.persona_id = persona_id
        self._shown: Optional[Tuple[Persona, Dict[str, Any], Dict[str, str], str]] = None
        load_persona(persona_id)  # an unknown persona fails here, at start-up

    @property
    def persona(self) -> Persona:
        return load_persona(self.persona_id)

    def _current(self) -> Tuple[Dict[str, str], str]:
        persona, facts = self.persona, load_facts()
        shown = self._shown
        # Same parsed objects: nothing changed since the page was last rendered.
        if shown is None or shown[0] is not persona or shown[1] is not facts:
            profile = persona.public_profile(facts)
            shown = self._shown = (persona, facts, profile, render_page(profile))
        return shown[2], shown[3]

    @property
    def profile(self) -> Dict[str, str]:
        return self._current()[0]

    @property
    def page(self) -> str:
        return self._current()[1]


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
    return response.json({"error": reason}, status=400, headers=API_HEADERS)


def forbidden(reason: str, ip: str) -> HTTPResponse:
    logger.warning("Web chat: request from %s refused (403): %s", mask_ip(ip), reason)
    return response.json({"error": reason}, status=403, headers=API_HEADERS)


def capped(request: Request, text_key: str, reason: str, retry_after_s: int) -> HTTPResponse:
    text = system_text(text_key, request.app.ctx.live.persona)
    return response.json(
        {"error": reason, "messages": [{"text": text}], "degraded": False},
        status=429, headers={**API_HEADERS, "Retry-After": str(retry_after_s)}, ensure_ascii=False,
    )


def came_over_https(request: Request) -> bool:
    forwarded = (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def webchat_blueprint(sessions: Optional[WebSessions] = None, limiter: Optional[IpLimiter] = None) -> Blueprint:
    bp = Blueprint("webchat")
    sessions = sessions or WebSessions.from_env()
    # IPs are hashed with the session secret before they become Redis keys.
    limiter = limiter or IpLimiter(None, sessions.secret)
    new_session_cap, message_cap = caps_from_env()
    proxies = trusted_proxies()

    warned_proxy = []

    def ip_of(request: Request) -> str:
        forwarded = request.headers.get("x-forwarded-for")
        ip = client_ip(request.ip, forwarded, proxies)
        if forwarded and ip == request.ip and not warned_proxy:
            # Behind a proxy that is not listed, every visitor counts as the proxy's IP.
            warned_proxy.append(True)
            logger.warning("Web chat: X-Forwarded-For from %s ignored; if it is your reverse proxy, "
                           "list it in CONSOLE_TRUSTED_PROXIES (per-IP caps count it as one client).", request.ip)
        return ip

    def session_of(request: Request) -> Optional[str]:
        return sessions.verify(request.cookies.get(COOKIE_NAME))

    def session_body(session_id: str) -> Dict[str, str]:
        return {"csrf_token": sessions.csrf_token(session_id), "history_key": sessions.history_key(session_id)}

    @bp.get("/")
    async def index(request: Request) -> HTTPResponse:
        return response.html(request.app.ctx.live.page, headers=PAGE_HEADERS)

    @bp.get("/api/persona")
    async def persona(request: Request) -> HTTPResponse:
        return response.json(request.app.ctx.live.profile, ensure_ascii=False)

    @bp.get("/api/session")
    async def session(request: Request) -> HTTPResponse:
        """The visitor's session (from the cookie), or a new one within the IP's cap."""
        session_id = session_of(request)
        if session_id is not None:
            return response.json(session_body(session_id), headers=API_HEADERS)
        ip = ip_of(request)
        if not await limiter.allow(new_session_cap, ip):
            return capped(request, "web_sessions_capped", "too many new sessions from this address",
                          new_session_cap.window_s)
        session_id, cookie = sessions.issue()
        if request.cookies.get(COOKIE_NAME):
            logger.info("Web chat: cookie from %s did not verify; new session issued.", mask_ip(ip))
        reply = response.json(session_body(session_id), headers=API_HEADERS)
        reply.cookies[COOKIE_NAME] = cookie
        morsel = reply.cookies[COOKIE_NAME]
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        morsel["path"] = "/"
        morsel["max-age"] = sessions.max_age_s
        if came_over_https(request):
            morsel["secure"] = True
        return reply

    @bp.post("/api/chat")
    async def chat(request: Request) -> HTTPResponse:
        ip = ip_of(request)
        session_id = session_of(request)
        if session_id is None:
            return forbidden("no valid web chat session: GET /api/session first", ip)
        if not sessions.csrf_ok(session_id, request.headers.get(CSRF_HEADER)):
            return forbidden(f"missing or wrong {CSRF_HEADER} header", ip)
        try:
            payload = json.loads((request.body or b"").decode("utf-8", errors="replace"))
        except json.JSONDecodeError as error:
            return bad_request(f"malformed JSON body ({error})")
        if not isinstance(payload, dict):
            return bad_request("JSON body must be an object")
        message = payload.get("message")
        if not isinstance(message, str):
            return bad_request("message must be a string")
        if "sender" in payload:
            logger.debug("Web chat: client-sent sender ignored; the session decides.")
        if not await limiter.allow(message_cap, ip):
            return capped(request, "web_messages_capped", "too many messages from this address",
                          message_cap.window_s)

        rasa_sender = sessions.rasa_sender(session_id)
        try:
            messages: List[Dict[str, Any]] = await request.app.ctx.rasa.send(
                rasa_sender, message[:MAX_MESSAGE_CHARS]
            )
        except RasaUnavailable as error:
            logger.warning("Web chat: Rasa unreachable for %s, apology sent: %s", mask_id(rasa_sender), error)
            apology = system_text("console_unreachable", request.app.ctx.live.persona)
            return response.json({"messages": [{"text": apology}], "degraded": True}, headers=API_HEADERS, ensure_ascii=False)
        return response.json(
            {"messages": [bot_message(m) for m in messages], "degraded": False},
            headers=API_HEADERS, ensure_ascii=False,
        )

    @bp.post("/api/chat/mailbox")
    async def mailbox(request: Request) -> HTTPResponse:
        """What a guide said to this visitor since the page last asked (common.web_mailbox)."""
        session_id = session_of(request)
        if session_id is None:
            return forbidden("no valid web chat session: GET /api/session first", ip_of(request))
        if not sessions.csrf_ok(session_id, request.headers.get(CSRF_HEADER)):
            return forbidden(f"missing or wrong {CSRF_HEADER} header", ip_of(request))
        _, native = senders.split(sessions.rasa_sender(session_id))
        try:
            waiting = await web_mailbox.collect(get_redis(), native)
        except Exception as error:  # the next poll tries again; nothing was taken
            logger.warning("Web chat: mailbox unreadable (%s).", type(error).__name__)
            waiting = []
        return response.json({"messages": [bot_message(m) for m in waiting]}, headers=API_HEADERS, ensure_ascii=False)

    return bp
