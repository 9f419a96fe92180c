"""Service levels of the handoffs (issue 12, item 8): what `scripts/ops.py handoffs`
and the console report. Reads every request hash (SCAN: one pass, no KEYS)."""
from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any, Dict, List, Optional

from common.handoff_routing import PREFIX, QUEUE


def seconds_between(start: Optional[str], end: Optional[str]) -> Optional[float]:
    """Seconds between two ISO times; None when either is missing or unreadable."""
    if not start or not end:
        return None
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


def _p90(values: List[float]) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def levels(requests: List[Dict[str, str]]) -> Dict[str, Any]:
    waits = [w for w in (seconds_between(r.get("requested_at"), r.get("first_reply_at")) for r in requests)
             if w is not None]
    return {
        "requests": len(requests),
        "answered": len(waits),
        "median_first_reply_s": round(median(waits), 1) if waits else None,
        "p90_first_reply_s": round(_p90(waits), 1) if waits else None,
        # ended with no word from any guide (taken back, timed out or ended unanswered)
        "abandoned": sum(1 for r in requests if r.get("status") == "ended" and not r.get("first_reply_at")),
        "taken_back": sum(int(r.get("taken_back") or 0) for r in requests),
    }


async def all_requests(redis: Any) -> List[Dict[str, str]]:
    found = []
    async for key in redis.scan_iter(match=_glob(PREFIX) + "req:*", count=500):
        raw = await redis.hgetall(key)
        if raw:
            found.append({_text(k): _text(v) for k, v in raw.items()})
    return found


async def service_levels(redis: Any, since: Optional[datetime] = None) -> Dict[str, Any]:
    requests = [r for r in await all_requests(redis)
                if since is None or (r.get("requested_at") and datetime.fromisoformat(r["requested_at"]) >= since)]
    by_guide: Dict[str, List[Dict[str, str]]] = {}
    for request in requests:
        if request.get("guide"):
            by_guide.setdefault(request["guide"], []).append(request)
    return {
        "waiting_now": int(await redis.zcard(QUEUE)),
        "held_now": sum(1 for r in requests if r.get("status") == "assigned"),
        **levels(requests),
        "by_reason": {reason: sum(1 for r in requests if r.get("reason") == reason)
                      for reason in sorted({r.get("reason", "") for r in requests})},
        "per_guide": {guide: {**levels(held), "holding_now": sum(1 for r in held if r.get("status") == "assigned")}
                      for guide, held in sorted(by_guide.items())},
    }


def _glob(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
