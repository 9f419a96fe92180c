"""Server-issued web chat sessions: a random id in a signed, HttpOnly cookie.

The cookie value is `<session id>.<issued at>.<HMAC-SHA256>`, signed with
CONSOLE_SESSION_SECRET; a cookie that does not verify (tampered, forged,
expired) is no session at all, so a client can never choose or guess another
visitor's id. The Rasa sender is `web:<session id>`. The page gets a CSRF
token derived from the session (`X-CSRF-Token` on every POST) and an opaque
history key (its localStorage slot), neither of which reveals the id.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import Optional

from common import sender as senders

logger = logging.getLogger(__name__)

COOKIE_NAME = "webchat_session"
CSRF_HEADER = "X-CSRF-Token"
DEFAULT_MAX_AGE_S = 30 * 24 * 3600
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
_CLOCK_SKEW_S = 300


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def secret_from_env() -> bytes:
    value = os.environ.get("CONSOLE_SESSION_SECRET", "")
    if value:
        return value.encode("utf-8")
    logger.warning(
        "CONSOLE_SESSION_SECRET is not set: using a per-process random secret; web chat "
        "sessions end when the console restarts and differ between console processes."
    )
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class WebSessions:
    secret: bytes
    max_age_s: int = DEFAULT_MAX_AGE_S

    @classmethod
    def from_env(cls) -> "WebSessions":
        max_age = int(os.environ.get("WEB_SESSION_MAX_AGE_S", str(DEFAULT_MAX_AGE_S)))
        return cls(secret_from_env(), max_age)

    def _mac(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose,) + parts).encode("utf-8")
        return _b64(hmac.new(self.secret, message, hashlib.sha256).digest())

    def issue(self, now: Optional[float] = None) -> "tuple[str, str]":
        """A new (session id, cookie value)."""
        session_id = secrets.token_urlsafe(24)  # 32 characters, 192 bits
        issued = str(int(now if now is not None else time.time()))
        return session_id, f"{session_id}.{issued}.{self._mac('session', session_id, issued)}"

    def verify(self, cookie: Optional[str], now: Optional[float] = None) -> Optional[str]:
        """The session id of a genuine, unexpired cookie; None for anything else."""
        parts = (cookie or "").split(".")
        if len(parts) != 3 or not _SESSION_ID.match(parts[0]) or not parts[1].isdigit():
            return None
        session_id, issued, mac = parts
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac("session", session_id, issued).encode()):
            return None
        age = (now if now is not None else time.time()) - int(issued)
        if age > self.max_age_s or age < -_CLOCK_SKEW_S:
            return None
        return session_id

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf", session_id)

    def csrf_ok(self, session_id: str, presented: Optional[str]) -> bool:
        return bool(presented) and hmac.compare_digest(
            str(presented).encode("utf-8", "replace"), self.csrf_token(session_id).encode()
        )

    def history_key(self, session_id: str) -> str:
        return self._mac("history", session_id)[:16]

    @staticmethod
    def rasa_sender(session_id: str) -> str:
        return senders.make(senders.WEB, session_id)
