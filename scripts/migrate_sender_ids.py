"""Move Rasa trackers of WeChat customers to the namespaced sender ids (issue 9).

Before issue 9 a conversation's sender id was the bare channel user id
(`rasa:tracker:<openid>`); now it names its channel (`rasa:tracker:wechat_mp:<openid>`,
`wecom_kf:<external_userid>`, `wecom:<userid>`, `web:<session>`, common/sender.py).
Which channel a bare id came from is read from the customer identity map the
action server already keeps (`cust:ident:<kind>:<id>`, docs/redis-schema.md), so
customers keep their conversation; customer ids, profiles, coupons and claims
are keyed by customer id and need nothing.

    python scripts/migrate_sender_ids.py            # dry run: print what would move
    python scripts/migrate_sender_ids.py --apply    # move (RENAMENX: never overwrites)

Left alone: trackers already namespaced; old web chat trackers (`web-<id>`: the
web chat now issues new signed sessions, the old ones expire with their 30-day
TTL); ids the identity map does not know (trusted REST callers, tests); ids
known in more than one WeChat channel (ambiguous: reported). A rename keeps the
key's TTL. Idempotent: a second run finds nothing to move. Run it with Rasa
stopped (between the old and the new version), so no new tracker appears
under the namespaced id first; if one did, the old tracker is kept and reported.

Redis: --redis-url, else $REDIS_URL, else the embedded `make run` Redis
(127.0.0.1:$EMBEDDED_REDIS_PORT, 6399, data in .run/redis/), which the script
starts for the duration when it is not running. Customer ids are printed masked unless --show-ids.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bot.redis_conn import make_sync_redis  # noqa: E402
from bot.redis_server import RedisServer  # noqa: E402  (stdlib only)
from common import sender  # noqa: E402
from common.dotenv import load_dotenv  # noqa: E402
from common.key_tags import MARKETING  # noqa: E402
from common.privacy import mask_id  # noqa: E402

TRACKER_PREFIX = "rasa:tracker:"  # endpoints.yml key_prefix "rasa" + Rasa's "tracker:"
IDENT_PREFIX = MARKETING + "cust:ident:"  # actions/services/customers.py (run migrate_hash_tags.py first)
LEGACY_WEB_PREFIX = "web-"  # the old web chat's self-chosen ids


@dataclass
class Report:
    renamed: List[str] = field(default_factory=list)
    would_rename: List[str] = field(default_factory=list)
    conflicts: List[str] = field(default_factory=list)  # namespaced tracker already there
    ambiguous: List[str] = field(default_factory=list)
    unknown: int = 0
    legacy_web: int = 0
    namespaced: int = 0

    def counts(self) -> Dict[str, int]:
        return {
            "renamed": len(self.renamed), "would_rename": len(self.would_rename),
            "conflicts": len(self.conflicts), "ambiguous": len(self.ambiguous),
            "unknown": self.unknown, "legacy_web": self.legacy_web, "already_namespaced": self.namespaced,
        }


def is_namespaced(sender_id: str) -> bool:
    head, sep, tail = sender_id.partition(sender.SEPARATOR)
    return bool(sep) and head in sender.NAMESPACES and bool(tail)


def channel_of(client: redis.Redis, user_id: str) -> List[str]:
    """The WeChat channels whose identity map knows this bare id."""
    pipe = client.pipeline(transaction=False)
    for kind in sender.WECHAT_CHANNELS:
        pipe.exists(f"{IDENT_PREFIX}{kind}:{user_id}")
    return [kind for kind, found in zip(sender.WECHAT_CHANNELS, pipe.execute()) if found]


def migrate(
    client: redis.Redis, apply: bool, prefix: str = TRACKER_PREFIX,
    say: Callable[[str], None] = print, show: Callable[[str], str] = mask_id,
) -> Report:
    report = Report()
    for raw in client.scan_iter(match=f"{prefix}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        user_id = key[len(prefix):]
        if is_namespaced(user_id):
            report.namespaced += 1
            continue
        if user_id.startswith(LEGACY_WEB_PREFIX):
            report.legacy_web += 1
            continue
        kinds = channel_of(client, user_id)
        if not kinds:
            report.unknown += 1
            continue
        if len(kinds) > 1:
            report.ambiguous.append(user_id)
            say(f"ambiguous  {prefix}{show(user_id)}: known in {', '.join(kinds)}; left as is")
            continue
        target = f"{prefix}{sender.make(kinds[0], user_id)}"
        line = f"{prefix}{show(user_id)} -> {prefix}{kinds[0]}:{show(user_id)}"
        if not apply:
            if client.exists(target):
                report.conflicts.append(user_id)
                say(f"conflict   {line}: the namespaced tracker exists; would keep both")
            else:
                report.would_rename.append(user_id)
                say(f"would move {line}")
        elif client.renamenx(key, target):
            report.renamed.append(user_id)
            say(f"moved      {line}")
        else:
            report.conflicts.append(user_id)
            say(f"conflict   {line}: the namespaced tracker exists; old one kept (expires by its TTL)")
    return report


@contextmanager
def open_redis(explicit_url: Optional[str]) -> Iterator[redis.Redis]:
    load_dotenv()
    url = explicit_url or os.environ.get("REDIS_URL")
    embedded: Optional[RedisServer] = None
    if not url:
        port = int(os.environ.get("EMBEDDED_REDIS_PORT", "6399"))
        url = f"redis://127.0.0.1:{port}/0"
        try:
            make_sync_redis(url).ping()
        except redis.ConnectionError:
            embedded = RedisServer(port, ROOT / ".run" / "redis").start(appendonly=True)
            print(f"(started the embedded Redis on port {port}, data in .run/redis/, for the migration)")
    client = make_sync_redis(url, socket_timeout=10)
    try:
        yield client
    finally:
        client.close()
        if embedded:
            embedded.stop()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apply", action="store_true", help="rename (default: dry run, print only)")
    parser.add_argument("--redis-url", default=None, help="default $REDIS_URL, else the embedded make-run Redis")
    parser.add_argument("--prefix", default=TRACKER_PREFIX, help=f"tracker key prefix (default {TRACKER_PREFIX})")
    parser.add_argument("--show-ids", action="store_true", help="print ids unmasked")
    args = parser.parse_args(argv)
    try:
        with open_redis(args.redis_url) as client:
            report = migrate(client, args.apply, args.prefix, show=(str if args.show_ids else mask_id))
    except (redis.RedisError, OSError, RuntimeError, TimeoutError) as error:
        print(f"Redis unavailable: {error}", file=sys.stderr)
        return 1
    counts = report.counts()
    print(("applied: " if args.apply else "dry run (use --apply to move): ")
          + ", ".join(f"{name} {value}" for name, value in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
