"""What the contact policy needs to know about each WeChat identity, kept by the channels.

`{brand}:contact:<sender id>` (hash, one per channel identity, e.g. `wecom_kf:<external_userid>`):
- `last_in`: epoch seconds of the customer's last message (the 48-hour windows start here);
- `kf_sent`: messages the bot sent on 微信客服 since then (WeCom allows 5 per window);
- `open_kfid`: the 微信客服 account the customer wrote to (proactive send_msg needs it);
- `optout`: "1" after 退订/TD; 订阅 clears it (checked for every proactive send);
- `push`, `push_at`: the last push delivered here, so a reply within 24 h is counted once
  in that push's report.

The channels write it on every consumer message (`record_inbound`, one Lua step), the
outbound worker reads it and counts its own sends. Both runtimes import this module; it
only needs a redis client.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Optional

from common import key_tags
from common.lua_script import LuaScript

PREFIX = key_tags.MARKETING + "contact:"
PUSH_STATS = key_tags.MARKETING + "push:"  # `<push id>:stats` hash of report counters
REPLY_WINDOW_S = 24 * 3600  # a reply this soon after a push counts in its report
KEEP_S = 400 * 86400  # an identity silent for over a year is dropped with its record

# 退订 / TD (WeChat's own convention) and 订阅 as whole messages, nothing else around them.
_OPT_OUT = re.compile(r"\s*(退订|TD|td|Td|取消订阅|退订消息|不要再发了)\s*[。！!.]?\s*")
_OPT_IN = re.compile(r"\s*(订阅|恢复订阅|订阅消息|重新订阅)\s*[。！!.]?\s*")


def key(sender_id: str) -> str:
    return PREFIX + sender_id


def push_stats_key(push_id: str) -> str:
    return f"{PUSH_STATS}{push_id}:stats"


def opt_command(text: Optional[str]) -> Optional[str]:
    """"optout" for 退订/TD, "optin" for 订阅, None for any other message."""
    if not text:
        return None
    if _OPT_OUT.fullmatch(text):
        return "optout"
    if _OPT_IN.fullmatch(text):
        return "optin"
    return None


# KEYS: contact hash. ARGV: now (epoch s), open_kfid ("" keeps the last), keep s,
# reply window s, push stats prefix. A reply to a recent push counts once (push_at cleared).
_RECORD_INBOUND = LuaScript("""
local now = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'last_in', ARGV[1], 'kf_sent', 0)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'open_kfid', ARGV[2]) end
local push = redis.call('HGET', KEYS[1], 'push')
local push_at = tonumber(redis.call('HGET', KEYS[1], 'push_at') or '')
if push and push_at and now - push_at <= tonumber(ARGV[4]) then
  redis.call('HINCRBY', ARGV[5] .. push .. ':stats', 'replied', 1)
  redis.call('HDEL', KEYS[1], 'push', 'push_at')
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
""")


async def record_inbound(redis: Any, sender_id: str, now: float, open_kfid: str = "") -> None:
    await _RECORD_INBOUND(redis, [key(sender_id)], [int(now), open_kfid or "", KEEP_S, REPLY_WINDOW_S, PUSH_STATS])


async def count_sent(redis: Any, sender_id: str, count: int) -> None:
    """The bot's replies on 微信客服 use up the same 5 messages as proactive ones."""
    if count > 0:
        await redis.hincrby(key(sender_id), "kf_sent", count)


async def set_opt_out(redis: Any, sender_id: str, opted_out: bool) -> None:
    if opted_out:
        await redis.hset(key(sender_id), "optout", "1")
        await redis.expire(key(sender_id), KEEP_S)
    else:
        await redis.hdel(key(sender_id), "optout")


async def read(redis: Any, sender_id: str) -> Dict[str, str]:
    raw = await redis.hgetall(key(sender_id))
    return {_text(k): _text(v) for k, v in (raw or {}).items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
