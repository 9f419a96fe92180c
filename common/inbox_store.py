"""Unanswered-questions inbox in Redis: key names, listing and marking groups.

Depends only on redis-py (asyncio, decode_responses=True), so the console and
the CLI use it without torch. Messages are grouped when recorded
(actions/faq/inbox.py), with the embedding model; their text is stored through
common.privacy.mask_text (no raw phone number or address in the inbox).
Keys (docs/redis-schema.md), all under one hash tag so that each atomic step
touches one Redis Cluster slot:

    {faq:inbox}:stream              stream   every fallback / low-confidence message (capped)
    {faq:inbox}:group:seq           string   last group id
    {faq:inbox}:group:<gid>         hash     label, status, count, first_ts, last_ts, top_guess, ...
    {faq:inbox}:group:<gid>:samples list     recent messages of the group (JSON, capped)
    {faq:inbox}:open                zset     open group ids by message count
    {faq:inbox}:labels              hash     open group id -> label (one round trip for grouping)
    {faq:inbox}:handled             zset     handled group ids by time handled (epoch s)
    {faq:inbox}:vectors             hash     open group id -> base64 float32 vector (grouping)
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional

from common.key_tags import INBOX
from common.lua_script import LuaScript

PREFIX = INBOX
STREAM = PREFIX + "stream"
GROUP_SEQ = PREFIX + "group:seq"
OPEN = PREFIX + "open"
HANDLED = PREFIX + "handled"
VECTORS = PREFIX + "vectors"
LABELS = PREFIX + "labels"
STATUSES = ("open", "handled")


def group_key(gid: str) -> str:
    return f"{PREFIX}group:{gid}"


def samples_key(gid: str) -> str:
    return f"{PREFIX}group:{gid}:samples"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def get_group(client, gid: str, samples: int = 5) -> Optional[Dict[str, Any]]:
    raw = await client.hgetall(group_key(gid))
    if not raw:
        return None
    group = {_text(k): _text(v) for k, v in raw.items()}
    recent = await client.lrange(samples_key(gid), 0, max(0, samples - 1)) if samples else []
    return {
        "id": gid,
        "label": group.get("label", ""),
        "status": group.get("status", "open"),
        "count": int(group.get("count", 0)),
        "first_ts": group.get("first_ts", ""),
        "last_ts": group.get("last_ts", ""),
        "top_guess": json.loads(group.get("top_guess") or "null"),
        "handled_at": group.get("handled_at") or None,
        "handled_by": group.get("handled_by") or None,
        "note": group.get("note") or None,
        "how": group.get("how") or None,
        "samples": [json.loads(_text(s)) for s in recent],
    }


async def list_groups(client, status: str = "open", limit: int = 50, offset: int = 0,
                      samples: int = 3) -> Dict[str, Any]:
    """Open groups by count (largest first) or handled groups (latest first)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    zset = OPEN if status == "open" else HANDLED
    total = await client.zcard(zset)
    ids = await client.zrevrange(zset, offset, offset + max(0, limit) - 1) if limit > 0 else []
    groups = []
    for gid in ids:
        group = await get_group(client, _text(gid), samples)
        if group:
            groups.append(group)
    return {"status": status, "total": int(total), "offset": offset, "groups": groups}


# KEYS: group, open, handled, vectors, labels. ARGV: gid, now (epoch s), handled_at, by, note, how.
_MARK_HANDLED = LuaScript("""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'handled', 'handled_at', ARGV[3], 'handled_by', ARGV[4], 'note', ARGV[5],
           'how', ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return 1
""")


async def mark_handled(client, gid: str, by: str = "", note: str = "", how: str = "") -> bool:
    """Close a group: later similar messages start a new group. False if unknown.
    `how` says what was done (the ops console: `examples`, `faq`, `dismiss`)."""
    now = time.time()
    done = await _MARK_HANDLED(client, [group_key(gid), OPEN, HANDLED, VECTORS, LABELS],
                               [gid, now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), by[:64], note[:500],
                                how[:32]])
    return bool(done)


async def recent_messages(client, count: int = 50) -> List[Dict[str, Any]]:
    entries = await client.xrevrange(STREAM, count=count)
    result = []
    for entry_id, fields in entries:
        item = {_text(k): _text(v) for k, v in fields.items()}
        item["guesses"] = json.loads(item.get("guesses") or "[]")
        item["id"] = _text(entry_id)
        result.append(item)
    return result
