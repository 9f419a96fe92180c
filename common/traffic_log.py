"""Turn log (issue 13): every user message the Rasa server saves, counted per day
and kept, masked, for the ops console's conversation review and dashboard.

Writer: the tracker store (`bot/tracker_store.py`) after each save, for the user
events not recorded before (a re-save records nothing), in one pipelined round
trip (none when nothing is new). Readers: the console (`bot/console/dashboard_api.py`).
Keys (docs/redis-schema.md, "traffic"), under one hash tag so that the pipeline
and the dashboard's reads go to one node of a Redis Cluster:

    {traffic}:turns               stream  one entry per user message, capped (MAXLEN ~ 200000)
    {traffic}:day:<YYYY-MM-DD>    hash    counters of that day (see `day_fields`), TTL 120 days
    {traffic}:senders:<YYYY-MM-DD> HLL    distinct sender ids of that day, TTL 120 days

Days are natural days in Asia/Shanghai (UTC+8, no daylight saving), like the
campaigns'. Texts arrive masked (the tracker store masks every user text before
it is saved, common/privacy.py); `turn` masks again (idempotent) so no caller can
record a raw phone number by mistake.

A turn is "low" (the dashboard's fallback rate, the review's `low=1`) when the
intent is `nlu_fallback` or `out_of_scope`, when the intent's confidence is below
LOW_CONFIDENCE (0.55 = the FallbackClassifier threshold in config.yml;
`TRAFFIC_LOW_CONFIDENCE` changes it), or when Rasa's core fallback
(`action_default_fallback`) answered.

Standard library and redis-py only (common/ is imported by both runtimes).
"""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

from common import sender as sender_ids
from common.privacy import mask_text

TAG = "{traffic}:"
STREAM = TAG + "turns"
DAY_PREFIX = TAG + "day:"
SENDERS_PREFIX = TAG + "senders:"

TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")
FALLBACK_ACTIONS = ("action_default_fallback",)
EXTERNAL_PREFIX = "EXTERNAL: "  # Rasa's external events (reminders, triggered intents): not a customer's words
MAX_TEXT_CHARS = 300
MAX_ACTIONS = 5
SCAN_BUDGET = 20_000  # stream entries one search reads at most
SCAN_CHUNK = 1_000
_MAX_SEQ = 18446744073709551615


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


STREAM_MAX_LEN = int(_env_number("TRAFFIC_STREAM_MAX_LEN", 200_000))
DAY_TTL_S = int(_env_number("TRAFFIC_DAY_TTL_DAYS", 120) * 86400)
LOW_CONFIDENCE = _env_number("TRAFFIC_LOW_CONFIDENCE", 0.55)


def day_key(day: str) -> str:
    return DAY_PREFIX + day


def senders_key(day: str) -> str:
    return SENDERS_PREFIX + day


def day_of(timestamp: float) -> str:
    return datetime.fromtimestamp(float(timestamp), TZ).date().isoformat()


def today() -> date:
    return datetime.now(TZ).date()


def last_days(count: int, until: Optional[date] = None) -> List[str]:
    """The `count` days up to `until` (default today), oldest first."""
    end = until or today()
    return [(end - timedelta(days=back)).isoformat() for back in range(count - 1, -1, -1)]


def channel_of(sender_id: str, input_channel: Optional[str] = None) -> str:
    """The sender id's namespace (`wechat_mp:…`); an id without one is a REST caller's,
    named by the input channel when Rasa knows it."""
    namespace, _ = sender_ids.split(sender_id)
    if not str(sender_id).startswith(namespace + sender_ids.SEPARATOR) and input_channel:
        return str(input_channel)[:32]
    return namespace


def _number(value: Any) -> Optional[float]:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def turn(sender_id: str, event: Dict[str, Any], actions: Sequence[str] = ()) -> Optional[Dict[str, str]]:
    """The stream entry of a serialised Rasa user event (`UserUttered.as_dict()`, already
    redacted) and the actions the bot ran after it; None for what is not a customer's message."""
    text = event.get("text")
    if event.get("event") != "user" or not isinstance(text, str) or not text.strip() \
            or text.startswith(EXTERNAL_PREFIX):
        return None
    parse = event.get("parse_data") if isinstance(event.get("parse_data"), dict) else {}
    intent = parse.get("intent") if isinstance(parse.get("intent"), dict) else {}
    name = str(intent.get("name") or "")
    confidence = _number(intent.get("confidence"))
    key, key_confidence = retrieval_key(parse, name, intent)
    actions = [str(a) for a in actions if a][:MAX_ACTIONS]
    low = name in FALLBACK_INTENTS or any(a in FALLBACK_ACTIONS for a in actions) \
        or (confidence is not None and confidence < LOW_CONFIDENCE)
    timestamp = _number(event.get("timestamp")) or datetime.now(timezone.utc).timestamp()
    return {
        "ts": f"{timestamp:.3f}",
        "day": day_of(timestamp),
        "sender": str(sender_id),
        "channel": channel_of(sender_id, event.get("input_channel")),
        "text": mask_text(text)[:MAX_TEXT_CHARS],
        "intent": name,
        "conf": "" if confidence is None else f"{confidence:.3f}",
        "key": key,
        "key_conf": "" if key_confidence is None else f"{key_confidence:.3f}",
        "low": "1" if low else "0",
        "action": ",".join(actions),
        "mid": str(event.get("message_id") or "")[:64],
    }


def retrieval_key(parse: Dict[str, Any], intent_name: str, intent: Dict[str, Any]) -> "tuple[str, Optional[float]]":
    """`faq/<key>` / `chitchat/<key>` the ResponseSelector chose for a retrieval intent, and its confidence."""
    selector = parse.get("response_selector") if isinstance(parse.get("response_selector"), dict) else {}
    chosen = selector.get(intent_name) if isinstance(selector.get(intent_name), dict) else {}
    response = chosen.get("response") if isinstance(chosen.get("response"), dict) else {}
    key = intent.get("full_retrieval_intent_name") or response.get("intent_response_key") or ""
    if not key or "/" not in str(key):
        return "", None
    return str(key)[:80], _number(response.get("confidence"))


def day_fields(record: Dict[str, str]) -> List[str]:
    """Counter fields of the day hash a turn increments: `msg`, `msg:<channel>`,
    `intent:<intent>`, `key:<faq|chitchat>/<key>`, and when low `low`, `low:<channel>`."""
    fields = ["msg", f"msg:{record['channel']}"]
    if record.get("intent"):
        fields.append(f"intent:{record['intent']}")
    if record.get("key"):
        fields.append(f"key:{record['key']}")
    if record.get("low") == "1":
        fields += ["low", f"low:{record['channel']}"]
    return fields


def queue(pipe: Any, records: Iterable[Dict[str, str]]) -> Any:
    """Add the writes of `records` to a redis-py pipeline (sync or asyncio: commands are buffered)."""
    days = set()
    for record in records:
        pipe.xadd(STREAM, record, maxlen=STREAM_MAX_LEN, approximate=True)
        for field in day_fields(record):
            pipe.hincrby(day_key(record["day"]), field, 1)
        pipe.pfadd(senders_key(record["day"]), record["sender"])
        days.add(record["day"])
    for day in sorted(days):
        pipe.expire(day_key(day), DAY_TTL_S)
        pipe.expire(senders_key(day), DAY_TTL_S)
    return pipe


def record_sync(client: Any, records: Sequence[Dict[str, str]]) -> None:
    """One round trip with a blocking client (the Rasa tracker store's); nothing when no records."""
    if records:
        queue(client.pipeline(transaction=False), records).execute()


async def record(client: Any, records: Sequence[Dict[str, str]]) -> None:
    """One round trip with an asyncio client."""
    if records:
        await queue(client.pipeline(transaction=False), records).execute()


# --- reading ------------------------------------------------------------------

def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _before(entry_id: str) -> Optional[str]:
    """The largest stream id below `entry_id` (XREVRANGE bounds are inclusive); None if none."""
    ms, _, seq = str(entry_id).partition("-")
    ms_n, seq_n = int(ms), int(seq or 0)
    if seq_n > 0:
        return f"{ms_n}-{seq_n - 1}"
    return f"{ms_n - 1}-{_MAX_SEQ}" if ms_n > 0 else None


def valid_id(entry_id: str) -> bool:
    ms, sep, seq = str(entry_id).partition("-")
    return ms.isdigit() and (not sep or seq.isdigit()) and len(entry_id) <= 41


def day_start_ms(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), TZ).timestamp() * 1000)


def shown(entry_id: Any, fields: Dict[Any, Any]) -> Dict[str, Any]:
    raw = {_text(k): _text(v) for k, v in fields.items()}
    return {
        "id": _text(entry_id),
        "time": datetime.fromtimestamp(float(raw.get("ts") or 0), TZ).isoformat(timespec="seconds"),
        "day": raw.get("day", ""),
        "sender": raw.get("sender", ""),
        "channel": raw.get("channel", ""),
        "text": raw.get("text", ""),
        "intent": raw.get("intent", ""),
        "confidence": _number(raw.get("conf") or None),
        "key": raw.get("key", ""),
        "key_confidence": _number(raw.get("key_conf") or None),
        "low": raw.get("low") == "1",
        "actions": [a for a in raw.get("action", "").split(",") if a],
        "message_id": raw.get("mid", ""),
    }


def _matches(turn_: Dict[str, Any], q: str, intent: str, channel: str, sender: str, low: bool) -> bool:
    if sender and turn_["sender"] != sender:
        return False
    if channel and turn_["channel"] != channel:
        return False
    if low and not turn_["low"]:
        return False
    if intent and intent not in (turn_["intent"], turn_["key"]):
        return False
    return not q or q in turn_["text"].casefold()


async def search(client: Any, q: str = "", intent: str = "", channel: str = "", sender: str = "",
                 day_from: Optional[str] = None, day_to: Optional[str] = None, low: bool = False,
                 limit: int = 50, before: Optional[str] = None, budget: int = SCAN_BUDGET) -> Dict[str, Any]:
    """Turns matching every filter given, newest first, reading at most `budget` stream
    entries. `next_before` continues the search (pass it as `before`), None when the
    range is exhausted. Days (YYYY-MM-DD, Asia/Shanghai) bound the stream ids, i.e. the
    time the turn was recorded."""
    q = mask_text(q.strip()).casefold() if q else ""
    low_bound = str(day_start_ms(day_from)) if day_from else "-"
    high = f"{day_start_ms((date.fromisoformat(day_to) + timedelta(days=1)).isoformat()) - 1}-{_MAX_SEQ}" \
        if day_to else "+"
    if before:
        below = _before(before)
        if below is None:
            return {"turns": [], "next_before": None, "scanned": 0}
        high = below if high == "+" or _id_key(below) < _id_key(high) else high
    found: List[Dict[str, Any]] = []
    scanned = 0
    cursor: Optional[str] = high
    while cursor is not None and scanned < budget:
        count = min(SCAN_CHUNK, budget - scanned)
        entries = await client.xrevrange(STREAM, max=cursor, min=low_bound, count=count)
        for position, (entry_id, fields) in enumerate(entries):
            item = shown(entry_id, fields)
            if _matches(item, q, intent, channel, sender, low):
                found.append(item)
                if len(found) >= limit:
                    more = position < len(entries) - 1 or len(entries) == count
                    return {"turns": found, "next_before": item["id"] if more else None,
                            "scanned": scanned + position + 1}
        scanned += len(entries)
        if len(entries) < count:
            return {"turns": found, "next_before": None, "scanned": scanned}
        last = _text(entries[-1][0])
        cursor = _before(last)
        if cursor is None:
            return {"turns": found, "next_before": None, "scanned": scanned}
        if scanned >= budget:
            return {"turns": found, "next_before": last, "scanned": scanned}
    return {"turns": found, "next_before": None, "scanned": scanned}


def _id_key(entry_id: str) -> "tuple[int, int]":
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def days(client: Any, day_list: Sequence[str]) -> List[Dict[str, Any]]:
    """Counters and distinct senders of each day, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for day in day_list:
        pipe.hgetall(day_key(day))
        # one key: one slot; redis-py's cluster pipeline refuses `pfcount` (multi-key) but not the command
        pipe.execute_command("PFCOUNT", senders_key(day))
    replies = await pipe.execute()
    result = []
    for index, day in enumerate(day_list):
        counters = {_text(k): int(v) for k, v in (replies[2 * index] or {}).items()}
        result.append({"day": day, "counters": counters, "senders": int(replies[2 * index + 1] or 0)})
    return result


async def entries_of(client: Any, senders: Iterable[str]) -> List[str]:
    """Ids of the stream entries of these sender ids (erasure of one customer,
    actions/services/erasure.py: a full pass over the stream, never in a request path)."""
    wanted = {str(s) for s in senders}
    found: List[str] = []
    cursor = "-"
    while True:
        entries = await client.xrange(STREAM, min=cursor, max="+", count=SCAN_CHUNK)
        found += [_text(i) for i, fields in entries
                  if _text(fields.get("sender", fields.get(b"sender", ""))) in wanted]
        if len(entries) < SCAN_CHUNK:
            return found
        ms, _, seq = _text(entries[-1][0]).partition("-")
        cursor = f"{ms}-{int(seq) + 1}"


async def forget(client: Any, senders: Iterable[str]) -> int:
    """Delete the stream entries of these sender ids. The day counters name no one."""
    doomed = await entries_of(client, senders)
    removed = 0
    for start in range(0, len(doomed), SCAN_CHUNK):
        removed += int(await client.xdel(STREAM, *doomed[start:start + SCAN_CHUNK]))
    return removed
