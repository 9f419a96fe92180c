"""What a guide says to a web chat visitor: the web chat has no push channel, so the
handoff worker leaves it here and the page collects it (POST /api/chat/mailbox)."""
from __future__ import annotations

import json
from typing import Any, Dict, List

MAX_WAITING = 200
TTL_S = 7 * 86400  # a visitor who never comes back does not keep it forever


def key(session_id: str) -> str:
    return f"web:mailbox:{session_id}"  # list of JSON {text}


async def leave(redis: Any, session_id: str, text: str) -> None:
    pipe = redis.pipeline(transaction=False)
    pipe.rpush(key(session_id), json.dumps({"text": text}, ensure_ascii=False))
    pipe.ltrim(key(session_id), -MAX_WAITING, -1)
    pipe.expire(key(session_id), TTL_S)
    await pipe.execute()


async def collect(redis: Any, session_id: str) -> List[Dict[str, Any]]:
    """Everything waiting, oldest first; each message is handed out once."""
    found = await redis.lpop(key(session_id), MAX_WAITING)
    return [json.loads(m) for m in found or []]
