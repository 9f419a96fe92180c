"""Unanswered-questions inbox for ops (no model needed: groups are assigned when recorded).

    python scripts/inbox.py list [--status open|handled] [--limit 20] [--json]
    python scripts/inbox.py show GROUP_ID
    python scripts/inbox.py handle GROUP_ID [--by NAME] [--note TEXT]
    python scripts/inbox.py recent [--limit 20]

Redis: $REDIS_URL, else the embedded `make run` Redis (127.0.0.1:$EMBEDDED_REDIS_PORT, 6399).
This CLI talks to Redis directly (so it runs where Redis is reachable, no token).

The same inbox over HTTP is the console's ops API (bot/console/inbox_api.py):

    curl -H "Authorization: Bearer $CONSOLE_OPS_TOKEN" http://127.0.0.1:8000/api/inbox/groups

CONSOLE_OPS_TOKEN is its own secret in .env (not RASA_TOKEN) and goes in the
header only: `?token=` is refused.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import inbox_store  # noqa: E402
from common.dotenv import load_dotenv  # noqa: E402
from actions.services.store import make_client as store_client  # noqa: E402


def redis_url() -> str:
    load_dotenv()
    return os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{os.environ.get('EMBEDDED_REDIS_PORT', '6399')}/0"


def print_group(group: dict, verbose: bool = False) -> None:
    guess = group.get("top_guess") or {}
    hint = f"  guess: {guess.get('key')} ({guess.get('score')})" if guess else ""
    print(f"#{group['id']:>4}  x{group['count']:<4} [{group['status']}] {group['label']}  (last {group['last_ts']}){hint}")
    if verbose:
        for sample in group["samples"]:
            print(f"        {sample['ts']}  {sample.get('customer', '')}: {sample['text']}  -> {sample.get('outcome')}")
        if group.get("handled_at"):
            print(f"        handled {group['handled_at']} by {group.get('handled_by') or '?'}: {group.get('note') or ''}")


async def run(args: argparse.Namespace) -> int:
    client = store_client(redis_url())
    try:
        if args.command == "list":
            listing = await inbox_store.list_groups(client, args.status, args.limit, samples=3)
            if args.json:
                print(json.dumps(listing, ensure_ascii=False, indent=2))
            else:
                print(f"{listing['total']} {args.status} group(s)")
                for group in listing["groups"]:
                    print_group(group)
        elif args.command == "show":
            group = await inbox_store.get_group(client, args.group_id, samples=20)
            if not group:
                print(f"no group {args.group_id}", file=sys.stderr)
                return 1
            print_group(group, verbose=True)
        elif args.command == "handle":
            if not await inbox_store.mark_handled(client, args.group_id, args.by, args.note):
                print(f"no group {args.group_id}", file=sys.stderr)
                return 1
            print(f"group {args.group_id} marked handled")
        elif args.command == "recent":
            for item in await inbox_store.recent_messages(client, args.limit):
                print(f"{item['ts']}  #{item['group']:>4} [{item['outcome']}] {item['text']}")
        return 0
    finally:
        await client.aclose() if hasattr(client, "aclose") else await client.close()


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description="Unanswered-questions inbox")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="groups, largest first")
    listing.add_argument("--status", choices=inbox_store.STATUSES, default="open")
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one group with its recent messages")
    show.add_argument("group_id")
    handle = sub.add_parser("handle", help="mark a group handled")
    handle.add_argument("group_id")
    handle.add_argument("--by", default=os.environ.get("USER", ""))
    handle.add_argument("--note", default="")
    recent = sub.add_parser("recent", help="latest recorded messages")
    recent.add_argument("--limit", type=int, default=20)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
