"""Move keys written before the Redis Cluster hash tags to their tagged names (issue 11).

Keys that one atomic step touches together now share a hash tag (common/key_tags.py,
docs/redis-schema.md "Redis Cluster"): customer and marketing keys start with
`{brand}:` (`cust:c1:profile` -> `{brand}:cust:c1:profile`), the unanswered inbox
with `{faq:inbox}:` (`faq:inbox:open` -> `{faq:inbox}:open`) and the 微信客服 delivery
state with `{wx:kf}:` (`wx:kf:msg:<id>` -> `{wx:kf}:msg:<id>`). Values that name a
key move with it: grant keys in the outbox and in the parked sets, and the grant
part of coupon fields. The inbox gains its labels hash (open group -> label).

    python scripts/migrate_hash_tags.py            # dry run: print what would move
    python scripts/migrate_hash_tags.py --apply    # move (RENAMENX: never overwrites)

Run it with the bot stopped, on the standalone Redis the data lives in (a rename
across slots is refused by a cluster), then start the new version; to go to a
cluster, migrate first and import the data afterwards (`redis-cli --cluster import`).
A rename keeps the key's TTL. Idempotent: a second run finds nothing to move. A
tagged key that already exists is never overwritten: the old one is kept and reported.
Run it before scripts/migrate_sender_ids.py if both are due (that one reads the
tagged identity keys).

Redis: --redis-url, else $REDIS_URL, else the embedded `make run` Redis (as
scripts/migrate_sender_ids.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import redis  # noqa: E402

from common.key_tags import INBOX, KF_SYNC, MARKETING  # noqa: E402
from migrate_sender_ids import open_redis  # noqa: E402

# (old prefix, new prefix); an old prefix without a trailing colon is one exact key
MOVES: Tuple[Tuple[str, str], ...] = (
    *((p, MARKETING + p) for p in ("cust:", "claim:", "chk:", "lot:", "cpn:", "idem:", "grant:")),
    ("outbox:grants", MARKETING + "outbox:grants"),
    ("ops:alerts", MARKETING + "ops:alerts"),
    ("faq:inbox:", INBOX),
    *((f"wx:kf:{p}", f"{KF_SYNC}{p}") for p in ("msg:", "cursor:", "sync-lock:", "sync-pending:", "sync-token:")),
    ("wx:kf:skipped", KF_SYNC + "skipped"),
)
OLD_GRANT = "grant:"


def _tagged_grant(member: str) -> str:
    return MARKETING + member


@dataclass
class Report:
    moved: Dict[str, int] = field(default_factory=dict)  # per old prefix
    conflicts: List[str] = field(default_factory=list)
    members: int = 0  # grant keys rewritten inside the outbox, parked sets and coupon fields
    labels: int = 0   # open inbox groups added to the labels hash

    def counts(self) -> Dict[str, int]:
        return {"moved": sum(self.moved.values()), **{f"moved {k}": v for k, v in self.moved.items() if v},
                "conflicts": len(self.conflicts), "members_rewritten": self.members, "inbox_labels": self.labels}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _old_keys(client: redis.Redis, old: str) -> List[str]:
    if not old.endswith(":"):
        return [old] if client.exists(old) else []
    return sorted(_text(k) for k in client.scan_iter(match=f"{old}*", count=1000))


def _rename_all(client: redis.Redis, apply: bool, report: Report, say: Callable[[str], None]) -> None:
    for old, new in MOVES:
        report.moved.setdefault(old, 0)
        for key in _old_keys(client, old):
            target = new + key[len(old):]
            if client.exists(target) or (apply and not client.renamenx(key, target)):
                report.conflicts.append(key)
                say(f"conflict   {key}: {target} exists; old key kept")
                continue
            report.moved[old] += 1


def _where(client: redis.Redis, apply: bool, tagged: str, old: str) -> List[str]:
    """Keys matching a tagged pattern; a dry run did not rename, so it also reads the old names."""
    patterns = [tagged] if apply else [tagged, old]
    return sorted({_text(k) for p in patterns for k in client.scan_iter(match=p, count=1000)})


def _rewrite_members(client: redis.Redis, apply: bool, report: Report) -> None:
    """Grant keys stored as values: the outbox zset, the parked sets, coupon fields `<type>#<grant>`."""
    for outbox in _where(client, apply, MARKETING + "outbox:grants", "outbox:grants"):
        for member, score in client.zrange(outbox, 0, -1, withscores=True):
            member = _text(member)
            if member.startswith(OLD_GRANT):
                report.members += 1
                if apply:
                    with client.pipeline(transaction=True) as pipe:
                        pipe.zadd(outbox, {_tagged_grant(member): score}).zrem(outbox, member).execute()
    for parked in _where(client, apply, f"{MARKETING}cpn:*:parked", "cpn:*:parked"):
        for member in client.smembers(parked):
            member = _text(member)
            if member.startswith(OLD_GRANT):
                report.members += 1
                if apply:
                    with client.pipeline(transaction=True) as pipe:
                        pipe.sadd(parked, _tagged_grant(member)).srem(parked, member).execute()
    for held in _where(client, apply, f"{MARKETING}cust:*:coupons", "cust:*:coupons"):
        for name, raw in client.hgetall(held).items():
            name, raw = _text(name), _text(raw)
            ctype, sep, grant = name.partition("#")
            if not (sep and grant.startswith(OLD_GRANT)):
                continue
            report.members += 1
            if apply:
                value = json.loads(raw)
                value["grant"] = _tagged_grant(grant)
                with client.pipeline(transaction=True) as pipe:
                    pipe.hset(held, f"{ctype}#{value['grant']}", json.dumps(value, ensure_ascii=False))
                    pipe.hdel(held, name).execute()


def _build_inbox_labels(client: redis.Redis, apply: bool, report: Report) -> None:
    prefix = INBOX if apply or client.exists(INBOX + "open") else "faq:inbox:"
    for gid in client.zrange(prefix + "open", 0, -1):
        gid = _text(gid)
        if client.hexists(INBOX + "labels", gid):
            continue
        report.labels += 1
        if apply:
            client.hset(INBOX + "labels", gid, _text(client.hget(f"{INBOX}group:{gid}", "label") or ""))


def migrate(client: redis.Redis, apply: bool, say: Callable[[str], None] = print) -> Report:
    report = Report()
    _rename_all(client, apply, report, say)
    _rewrite_members(client, apply, report)
    _build_inbox_labels(client, apply, report)
    return report


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apply", action="store_true", help="rename (default: dry run, print only)")
    parser.add_argument("--redis-url", default=None, help="default $REDIS_URL, else the embedded make-run Redis")
    args = parser.parse_args(argv)
    try:
        with open_redis(args.redis_url) as client:
            report = migrate(client, args.apply)
    except (redis.RedisError, OSError, RuntimeError, TimeoutError) as error:
        print(f"Redis unavailable: {error}", file=sys.stderr)
        return 1
    print(("applied: " if args.apply else "dry run (use --apply to move): ")
          + ", ".join(f"{name} {value}" for name, value in report.counts().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
