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
from common.lua_script import LuaScript
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
    """(gid, label) of every open group in one round trip (the labels hash mirrors the
    open groups; SORT … GET would read each group hash but is refused on Redis Cluster)."""
    return [(keys._text(gid), keys._text(label)) for gid, label in (await client.hgetall(keys.LABELS)).items()]


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


# One step per message, so a group is created, counted and listed together (and a group
# closed by ops meanwhile is not counted: the message starts a new one). Group keys are
# built from the prefix inside the script: they share the inbox's hash tag, so one slot.
# KEYS: stream, group seq, open, labels, vectors. ARGV: prefix, gid ('' = new group), ts,
# label, top guess, vector ('' = none), sample, samples cap, stream cap, open groups cap,
# then the stream entry's field/value pairs.
_RECORD = LuaScript("""
local prefix, gid = ARGV[1], ARGV[2]
if gid ~= '' and redis.call('HGET', prefix .. 'group:' .. gid, 'status') ~= 'open' then gid = '' end
if gid == '' then
  if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[10]) then
    for _, old in ipairs(redis.call('ZRANGE', KEYS[3], 0, 0)) do
      redis.call('DEL', prefix .. 'group:' .. old, prefix .. 'group:' .. old .. ':samples')
      redis.call('ZREM', KEYS[3], old)
      redis.call('HDEL', KEYS[4], old)
      redis.call('HDEL', KEYS[5], old)
    end
  end
  gid = tostring(redis.call('INCR', KEYS[2]))
  redis.call('HSET', prefix .. 'group:' .. gid, 'label', ARGV[4], 'status', 'open', 'count', 0,
             'first_ts', ARGV[3], 'top_guess', ARGV[5])
  redis.call('HSET', KEYS[4], gid, ARGV[4])
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[5], gid, ARGV[6]) end
end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'group'
fields[#fields + 1] = gid
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[9], '*', unpack(fields))
local group = prefix .. 'group:' .. gid
redis.call('HINCRBY', group, 'count', 1)
redis.call('HSET', group, 'last_ts', ARGV[3])
redis.call('ZINCRBY', KEYS[3], 1, gid)
redis.call('LPUSH', group .. ':samples', ARGV[7])
redis.call('LTRIM', group .. ':samples', 0, tonumber(ARGV[8]) - 1)
return gid
""")


async def record(client, entry: InboxEntry, vector: Optional[np.ndarray], settings: FaqSettings) -> str:
    """Append to the stream and count the message in its group; returns the group id.
    The text is stored masked (phone numbers, addresses, …): the inbox is read by
    ops and kept without TTL. The vector was computed by the caller on the raw text."""
    entry = replace(entry, text=mask_text(entry.text))
    ts = entry.ts or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    gid = await _closest_group(client, vector, settings.group_threshold) \
        or await _lexically_closest_group(client, entry.text, settings.group_lexical_threshold)
    top = entry.guesses[0] if entry.guesses else None
    sample = json.dumps({"text": entry.text, "ts": ts, "customer": entry.customer, "outcome": entry.outcome},
                        ensure_ascii=False)
    fields = {"text": entry.text, "ts": ts, "customer": entry.customer, "channel": entry.channel,
              "outcome": entry.outcome, "guesses": json.dumps(entry.guesses, ensure_ascii=False)}
    gid = await _RECORD(client, [keys.STREAM, keys.GROUP_SEQ, keys.OPEN, keys.LABELS, keys.VECTORS], [
        keys.PREFIX, gid or "", ts, entry.text, json.dumps(top, ensure_ascii=False),
        "" if vector is None else encode_vector(vector), sample, settings.samples_per_group,
        settings.inbox_max_len, settings.max_open_groups, *[v for pair in fields.items() for v in pair]])
    return keys._text(gid)
