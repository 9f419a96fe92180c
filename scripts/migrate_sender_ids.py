"""Move WeChat conversations to their namespaced sender ids (issue 9).

Before issue 9 the 公众号 / 微信客服 / WeCom-app channels handed Rasa the raw
openid / external_userid / userid; now they hand `wechat_mp:<openid>`,
`wecom_kf:<external_userid>`, `wecom:<userid>`. This renames each tracker
`rasa:tracker:<raw id>` whose user messages came through one of those channels
(the events' `input_channel`) to `rasa:tracker:<namespace>:<raw id>`, keeping
its TTL, so a customer's conversation (slots, an open form) carries on.
Trackers of other channels (REST, web) are left alone. A tracker that already
exists under the new id is never overwritten; a tracker written while the
script runs is left for the next run. Dry run unless --apply.

    .venv/rasa/bin/python scripts/migrate_sender_ids.py [--redis-url URL] [--apply]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Optional

import redis as redis_sync

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import sender  # noqa: E402
from common.privacy import mask_id  # noqa: E402

PREFIX = "rasa:tracker:"

# Only if the value is unchanged and the new id is free; keeps the remaining TTL.
_MOVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[2], ARGV[2], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[2]) end
redis.call('DEL', KEYS[1])
return 1
"""


def wechat_namespace(tracker: Dict) -> Optional[str]:
    """The WeChat channel the tracker's user messages came through, if any."""
    channels = {e.get("input_channel") for e in tracker.get("events") or [] if e.get("event") == "user"}
    found = channels & set(sender.WECHAT_CHANNELS)
    return found.pop() if len(found) == 1 else None


def migrate(client: redis_sync.Redis, apply: bool) -> Counter:
    outcome: Counter = Counter()
    for key in client.scan_iter(match=PREFIX + "*", count=500):
        raw_id = key[len(PREFIX):]
        if sender.SEPARATOR in raw_id:
            outcome["already namespaced or not ours"] += 1
            continue
        value = client.get(key)
        try:
            tracker = json.loads(value) if value else None
        except json.JSONDecodeError:
            tracker = None
        namespace = wechat_namespace(tracker) if isinstance(tracker, dict) else None
        if namespace is None:
            outcome["left alone (not a WeChat conversation)"] += 1
            continue
        new_id = sender.make(namespace, raw_id)
        if not apply:
            outcome[f"would move to {namespace}:"] += 1
            continue
        tracker["name"] = new_id
        moved = int(client.eval(_MOVE, 2, key, PREFIX + new_id, value, json.dumps(tracker, ensure_ascii=False)))
        label = {1: f"moved to {namespace}:", 0: "kept (new id already has a tracker)",
                 -1: "skipped (changed while migrating; run again)"}[moved]
        outcome[label] += 1
        if moved != 1:
            print(f"{mask_id(raw_id)}: {label}", file=sys.stderr)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--apply", action="store_true", help="rename (default: only report what would move)")
    args = parser.parse_args()
    client = redis_sync.Redis.from_url(args.redis_url, decode_responses=True)
    outcome = migrate(client, args.apply)
    print(json.dumps({"applied": args.apply, **outcome}, ensure_ascii=False))


if __name__ == "__main__":
    main()
