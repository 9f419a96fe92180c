"""Record a message the bot could not answer confidently, grouped by similarity.

The group is chosen here, with the embedding of the message, so that readers
(console, CLI) need no model: the message joins the most similar open group
(cosine >= group_threshold against the group's first message), or starts one.
The embedding model is trained on our own FAQ phrasings and knows nothing of
out-of-scope topics (猫粮, 招聘), which are most of the inbox; so when no group is
close by the embeddings, one whose first message shares most character pairs
with this one (Dice >= group_lexical_threshold) is taken: 你们卖不卖猫粮 and
你们卖猫粮吗 are one question.
Two processes recording the first two similar messages at the same moment may
start two groups; ops see both, which is harmless.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from common import inbox_store as keys
from common.privacy import mask_text
from actions.faq.settings import FaqSettings


@dataclass(frozen=True)
class InboxEntry:
    text: str
    customer: str
    channel: str
    outcome: str  # answer | suggest | none | out_of_scope
    guesses: List[Dict[str, Any]] = field(default_factory=list)  # [{"key", "score", "source"}]
    ts: str = ""


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode()


def decode_vector(raw: Any) -> np.ndarray:
    return np.frombuffer(base64.b64decode(raw), dtype=np.float32)


async def _closest_group(client, vector: Optional[np.ndarray], threshold: float) -> Optional[str]:
    """The group whose vector is most similar (cosine >= threshold). One matrix product
    over all stored vectors, not one decode and dot product per group in Python."""
    if vector is None:
        return None
    stored = await client.hgetall(keys.VECTORS)
    width = np.asarray(vector, dtype=np.float32).nbytes
    # vectors written by another embedding model have another width: skipped
    same = [(gid, raw) for gid, raw in ((gid, base64.b64decode(raw)) for gid, raw in stored.items())
            if len(raw) == width]
    if not same:
        return None
    matrix = np.frombuffer(b"".join(raw for _, raw in same), dtype=np.float32).reshape(len(same), -1)
    scores = matrix @ np.asarray(vector, dtype=np.float32)
    best = int(np.argmax(scores))
    return keys._text(same[best][0]) if float(scores[best]) >= threshold else None


def _pairs(text: str) -> set:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in zip(chars, chars[1:])}


def _dice(pa: set, pb: set) -> float:
    return 2 * len(pa & pb) / (len(pa) + len(pb)) if pa and pb else 0.0


def lexical_similarity(a: str, b: str) -> float:
    """Dice coefficient of the two texts' character pairs."""
    return _dice(_pairs(a), _pairs(b))


async def _open_labels(client) -> List[Tuple[str, str]]:
    """(gid, label) of every open group in one round trip (SORT … GET reads each hash)."""
    flat = await client.sort(keys.OPEN, by="nosort", get=["#", keys.group_key("*") + "->label"])
    return [(keys._text(gid), keys._text(label or "")) for gid, label in zip(flat[0::2], flat[1::2])]


async def _lexically_closest_group(client, text: str, threshold: float) -> Optional[str]:
    pairs = _pairs(text)
    if not pairs:
        return None
    best_gid, best = None, threshold
    for gid, label in await _open_labels(client):
        score = _dice(pairs, _pairs(label))
        if score > best or (best_gid is None and score == best):
            best_gid, best = gid, score
    return best_gid


async def _evict_smallest(client) -> None:
    smallest = await client.zrange(keys.OPEN, 0, 0)
    for gid in smallest:
        gid = keys._text(gid)
        await client.delete(keys.group_key(gid), keys.samples_key(gid))
        await client.zrem(keys.OPEN, gid)
        await client.hdel(keys.VECTORS, gid)


async def record(client, entry: InboxEntry, vector: Optional[np.ndarray], settings: FaqSettings) -> str:
    """Append to the stream and count the message in its group; returns the group id.
    The text is stored masked (phone numbers, addresses, …): the inbox is read by
    ops and kept without TTL. The vector was computed by the caller on the raw text."""
    entry = replace(entry, text=mask_text(entry.text))
    ts = entry.ts or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    gid = await _closest_group(client, vector, settings.group_threshold) \
        or await _lexically_closest_group(client, entry.text, settings.group_lexical_threshold)
    if gid is None:
        if await client.zcard(keys.OPEN) >= settings.max_open_groups:
            await _evict_smallest(client)
        gid = str(await client.incr(keys.GROUP_SEQ))
        top = entry.guesses[0] if entry.guesses else None
        await client.hset(keys.group_key(gid), mapping={
            "label": entry.text, "status": "open", "count": 0, "first_ts": ts,
            "top_guess": json.dumps(top, ensure_ascii=False),
        })
        if vector is not None:
            await client.hset(keys.VECTORS, gid, encode_vector(vector))
    guesses = json.dumps(entry.guesses, ensure_ascii=False)
    sample = json.dumps({"text": entry.text, "ts": ts, "customer": entry.customer, "outcome": entry.outcome},
                        ensure_ascii=False)
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(keys.STREAM, {
            "text": entry.text, "ts": ts, "customer": entry.customer, "channel": entry.channel,
            "outcome": entry.outcome, "guesses": guesses, "group": gid,
        }, maxlen=settings.inbox_max_len, approximate=True)
        pipe.hincrby(keys.group_key(gid), "count", 1)
        pipe.hset(keys.group_key(gid), "last_ts", ts)
        pipe.zincrby(keys.OPEN, 1, gid)
        pipe.lpush(keys.samples_key(gid), sample)
        pipe.ltrim(keys.samples_key(gid), 0, settings.samples_per_group - 1)
        await pipe.execute()
    return gid
