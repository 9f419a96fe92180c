"""Staff accounts of the console: guides, ops and admins (issue 12, item 1; issue 13 builds on it).

- Accounts live in Redis (`console:staff:<username>`): role, display name, the
  guide's WeCom userid, and an Argon2id password hash (argon2-cffi). Made and
  changed with `scripts/staff.py`, never through a page without a session.
- Signing in (`POST /api/staff/login`) issues a random session token in an
  HttpOnly, SameSite=Strict cookie (Secure over HTTPS); Redis keeps only its
  SHA-256 (`console:staff-session:<sha256>`), with the account, role and a
  per-session CSRF token, and an idle time-out (CONSOLE_STAFF_SESSION_TTL_S,
  8 h) renewed by use. Signing out deletes it: an old cookie is then nothing.
- Every state-changing request needs the session and its CSRF token in the
  `X-CSRF-Token` header (`authorise`). A wrong password and an unknown account
  get the same answer after the same work (a dummy hash is verified).
- Attempts are capped per account name (CONSOLE_LOGIN_ATTEMPTS_PER_NAME per 15
  minutes, default 10: a password is not guessed by trying) and per client IP
  (CONSOLE_LOGIN_ATTEMPTS_PER_IP, default 100: a store's guides share one address).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.console.limits import client_ip, mask_ip, trusted_proxies
from bot.console.webchat import came_over_https
from bot.flood import Verdict, WindowLimiter
from bot.redis_conn import get_redis
from common.redis_settings import UNAVAILABLE

logger = logging.getLogger(__name__)

ROLES = ("guide", "ops", "admin")
COOKIE_NAME = "staff_session"
CSRF_HEADER = "X-CSRF-Token"
ACCOUNT_PREFIX = "console:staff:"
SESSION_PREFIX = "console:staff-session:"
MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
LOGIN_WINDOW_S = 900
API_HEADERS = {"Cache-Control": "no-store"}

_hasher = PasswordHasher()  # Argon2id with the library's current defaults
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))  # verified for unknown names: same work, same answer


def session_ttl_s() -> int:
    return max(60, int(float(os.environ.get("CONSOLE_STAFF_SESSION_TTL_S") or 8 * 3600)))


def login_attempts(per: str, default: int) -> int:
    return max(1, int(float(os.environ.get(f"CONSOLE_LOGIN_ATTEMPTS_PER_{per}") or default)))


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    display: str = ""
    guide_userid: str = ""  # the guide's WeCom userid (role guide): which conversations are theirs
    disabled: bool = False


@dataclass(frozen=True)
class Session:
    account: Account
    csrf: str


class AccountError(ValueError):
    """A refused account change (bad name, role or password), said to the operator."""


def _account_key(username: str) -> str:
    return ACCOUNT_PREFIX + username.lower()


def _session_key(token: str) -> str:
    return SESSION_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def save_account(redis: Any, username: str, role: str, password: Optional[str] = None, display: str = "",
                       guide_userid: str = "", disabled: bool = False) -> Account:
    """Create or change an account; a new account needs a password."""
    if not USERNAME.match(username or ""):
        raise AccountError("username: 2-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role == "guide" and not guide_userid:
        raise AccountError("a guide account needs --guide-userid (their WeCom userid)")
    fields: Dict[str, str] = {"username": username.lower(), "role": role, "display": display or username,
                              "guide_userid": guide_userid, "disabled": "1" if disabled else "0"}
    if password is not None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        fields["password_hash"] = _hasher.hash(password)
    elif not await redis.hexists(_account_key(username), "password_hash"):
        raise AccountError("a new account needs a password")
    if not await redis.exists(_account_key(username)):
        fields["created_at"] = str(int(time.time()))
    await redis.hset(_account_key(username), mapping=fields)
    if disabled:
        await end_sessions_of(redis, username)
    return Account(fields["username"], role, fields["display"], guide_userid, disabled)


async def get_account(redis: Any, username: str) -> Optional[Account]:
    raw = {_text(k): _text(v) for k, v in (await redis.hgetall(_account_key(username))).items()}
    if not raw:
        return None
    return Account(raw["username"], raw["role"], raw.get("display", ""), raw.get("guide_userid", ""),
                   raw.get("disabled") == "1")


async def list_accounts(redis: Any) -> list:
    found = [_text(k)[len(ACCOUNT_PREFIX):] async for k in redis.scan_iter(match=ACCOUNT_PREFIX + "*")]
    return [a for a in [await get_account(redis, name) for name in sorted(found)] if a]


async def check_password(redis: Any, username: str, password: str) -> Optional[Account]:
    """The account if the password is right and the account enabled; None otherwise, after the same work."""
    stored = _text(await redis.hget(_account_key(username), "password_hash") or "") if USERNAME.match(username) else ""
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if not stored:
        return None
    account = await get_account(redis, username)
    return account if account and not account.disabled else None


async def start_session(redis: Any, account: Account) -> "tuple[str, Session]":
    token = secrets.token_urlsafe(32)
    session = Session(account, secrets.token_urlsafe(24))
    await redis.set(_session_key(token), json.dumps({"username": account.username, "csrf": session.csrf}),
                    ex=session_ttl_s())
    return token, session


async def session_for(redis: Any, token: Optional[str]) -> Optional[Session]:
    """The live session of a cookie (renewing its idle time-out), with the account as it is now."""
    if not token or len(token) > 128:
        return None
    raw = await redis.get(_session_key(token))
    if not raw:
        return None
    stored = json.loads(_text(raw))
    account = await get_account(redis, stored["username"])
    if account is None or account.disabled:
        await redis.delete(_session_key(token))
        return None
    await redis.expire(_session_key(token), session_ttl_s())
    return Session(account, stored["csrf"])


async def end_session(redis: Any, token: Optional[str]) -> None:
    if token:
        await redis.delete(_session_key(token))


async def end_sessions_of(redis: Any, username: str) -> int:
    """Sign an account out everywhere (disabled, or its password changed)."""
    ended = 0
    async for key in redis.scan_iter(match=SESSION_PREFIX + "*"):
        raw = await redis.get(key)
        if raw and json.loads(_text(raw)).get("username") == username.lower():
            ended += await redis.delete(key)
    return ended


class Refusal(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


async def authorise(request: Request, roles: Sequence[str] = ROLES) -> Session:
    """The caller's session, or Refusal: 401 without one, 403 for another role or a
    state-changing request without the session's CSRF token."""
    session = await session_for(get_redis(), request.cookies.get(COOKIE_NAME))
    if session is None:
        raise Refusal(401, "not signed in")
    if request.method not in ("GET", "HEAD", "OPTIONS") and \
            not hmac.compare_digest(request.headers.get(CSRF_HEADER) or "", session.csrf):
        raise Refusal(403, f"missing or wrong {CSRF_HEADER} header")
    if session.account.role not in roles:
        raise Refusal(403, "this account's role may not do that")
    return session


def _me(session: Session) -> Dict[str, Any]:
    account = session.account
    return {"username": account.username, "role": account.role, "display": account.display,
            "guide_userid": account.guide_userid, "csrf_token": session.csrf}


def staff_blueprint() -> Blueprint:
    bp = Blueprint("staff", url_prefix="/api/staff")
    proxies = trusted_proxies()
    per_ip = WindowLimiter("console:rl:login-ip", login_attempts("IP", 100), LOGIN_WINDOW_S)
    per_name = WindowLimiter("console:rl:login-name", login_attempts("NAME", 10), LOGIN_WINDOW_S)

    def refuse(status: int, reason: str, request: Request) -> HTTPResponse:
        logger.warning("Staff API: %s %s from %s refused (%d): %s", request.method, request.path,
                       mask_ip(client_ip(request.ip, request.headers.get("x-forwarded-for"), proxies)),
                       status, reason)
        return response.json({"error": reason}, status=status, headers=API_HEADERS)

    @bp.exception(Refusal)
    async def refused(request: Request, error: Refusal) -> HTTPResponse:
        return refuse(error.status, error.reason, request)

    @bp.exception(*UNAVAILABLE)
    async def redis_down(request: Request, error: Exception) -> HTTPResponse:
        logger.error("Staff API: Redis unavailable (%s)", type(error).__name__)
        return response.json({"error": "sign-in storage unavailable"}, status=503, headers=API_HEADERS)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        try:
            body = json.loads((request.body or b"{}").decode("utf-8", errors="replace"))
        except json.JSONDecodeError:
            return refuse(400, "malformed JSON body", request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or len(password) > 1024:
            return refuse(400, "username and password must be strings", request)
        redis = get_redis()
        ip = client_ip(request.ip, request.headers.get("x-forwarded-for"), proxies)
        name_verdict = await per_name.hit(redis, hashlib.sha256(username.lower().encode()).hexdigest()[:24])
        ip_verdict = await per_ip.hit(redis, hashlib.sha256(ip.encode()).hexdigest()[:24])
        if name_verdict is not Verdict.ALLOW or ip_verdict is not Verdict.ALLOW:
            reply = refuse(429, "too many sign-in attempts; try again later", request)
            reply.headers["Retry-After"] = str(LOGIN_WINDOW_S)
            return reply
        account = await check_password(redis, username, password)
        if account is None:
            return refuse(401, "wrong username or password", request)
        token, session = await start_session(redis, account)
        logger.info("Staff API: %s (%s) signed in.", account.username, account.role)
        reply = response.json(_me(session), headers=API_HEADERS, ensure_ascii=False)
        reply.cookies[COOKIE_NAME] = token
        morsel = reply.cookies[COOKIE_NAME]
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        morsel["path"] = "/"
        if came_over_https(request):
            morsel["secure"] = True
        return reply

    @bp.get("/me")
    async def me(request: Request) -> HTTPResponse:
        return response.json(_me(await authorise(request)), headers=API_HEADERS, ensure_ascii=False)

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        session = await authorise(request)
        await end_session(get_redis(), request.cookies.get(COOKIE_NAME))
        logger.info("Staff API: %s signed out.", session.account.username)
        reply = response.json({"signed_out": True}, headers=API_HEADERS)
        reply.cookies[COOKIE_NAME] = ""
        reply.cookies[COOKIE_NAME]["max-age"] = 0
        reply.cookies[COOKIE_NAME]["path"] = "/"
        return reply

    return bp
