"""Nonce cache inside the replay window.

The 公众号 plaintext `signature` covers only (token, timestamp, nonce), not
the body: whoever sees one signed URL could post any body with it until the
timestamp leaves the window. So each authenticated callback's
(channel, timestamp, nonce) is remembered, bound to a hash of its body:
- new → go on;
- same body again → a genuine WeChat retry: go on (MsgId dedup answers it once);
- different body → refused ("replayed nonce").
One Lua step (SET NX, else compare), TTL = 2 × the replay window. If Redis is
down the signature and timestamp checks still stand (logged, not fatal).
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Mapping

from common.lua_script import LuaScript
from bot.wechat.callback_auth import Forbidden
from bot.wechat.settings import replay_window_s

logger = logging.getLogger(__name__)

# Without a replay window (WECHAT_REPLAY_WINDOW_S=0) nonces are still kept this long.
FALLBACK_WINDOW_S = 300.0

NEW, RETRY, REPLAY = 1, 2, 0

_CLAIM = LuaScript("""
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 2 end
return 0
""")


def nonce_key(channel: str, timestamp: str, nonce: str) -> str:
    return f"wx:nonce:{channel}:{timestamp}:{nonce}"


def body_digest(params: Mapping[str, str], body: bytes) -> str:
    # The signatures are part of what WeChat retries unchanged, so they are bound too.
    signed = "|".join((params.get("signature", ""), params.get("msg_signature", "")))
    return hashlib.sha256(signed.encode("utf-8") + b"\n" + body).hexdigest()


def ttl_s() -> int:
    window = replay_window_s()
    return int(2 * (window if window > 0 else FALLBACK_WINDOW_S))


async def check_nonce(redis: Any, channel: str, params: Mapping[str, str], body: bytes) -> int:
    """NEW or RETRY; raises Forbidden for a replayed nonce. Call after the signature checked out."""
    key = nonce_key(channel, params.get("timestamp", ""), params.get("nonce", ""))
    try:
        outcome = int(await _CLAIM(redis, [key], [body_digest(params, body), ttl_s()]))
    except Exception as error:
        logger.warning("%s: nonce cache unavailable (%s); relying on signature and timestamp.",
                       channel, type(error).__name__)
        return NEW
    if outcome == REPLAY:
        raise Forbidden("replayed nonce (same timestamp and nonce, different body)")
    return outcome
