#!/usr/bin/env python
"""Segment pushes (千人千券) from the command line (runs in .venv/rasa; REDIS_URL).

  preview [SEGMENT]                       how many customers the segment holds now
  create --name N --text T [SEGMENT] [--coupon TYPE] [--at "2026-12-03 10:00"] [--by WHO] [--mass]
                                          schedule a push (now by default); the outbound worker
                                          sends it under the contact policy; prints its id.
                                          --mass: customers outside the 48-hour window who are a
                                          guide's WeCom contacts get it as a 企业群发 task each
                                          guide confirms in WeCom (no coupon codes then)
  report ID                               targeted, sent, refused by reason, undeliverable by
                                          API error, in doubt, replies within 24 h, coupons issued
  list [--count N]                        the newest pushes with their status
  cancel ID                               stop a push that has not finished

SEGMENT: --any TAG… --all TAG… --none TAG… --level gold… --active-days N
(tag ids of data/catalog/tags.yml, e.g. skin:sensitive, level:gold). In the text,
{you} and {persona} speak in the persona's voice and {coupon_code} is each customer's
own code when --coupon is given; "回复 TD 退订" is added to every push.

Example: REDIS_URL=redis://127.0.0.1:6399/0 .venv/rasa/bin/python scripts/push.py preview --level gold
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.services.catalog import catalog  # noqa: E402
from bot.outbound import mass, pushes  # noqa: E402
from bot.outbound.policy import Settings  # noqa: E402
from bot.outbound.segments import Segment  # noqa: E402
from bot.redis_conn import make_redis  # noqa: E402
from common import redis_settings  # noqa: E402


def out(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def segment_of(args: argparse.Namespace) -> Segment:
    return Segment(any_tags=args.any or [], all_tags=args.all or [], none_tags=args.none or [],
                   levels=args.level or [], active_within_days=args.active_days or 0)


def when(text: str) -> float:
    """A local time of the brand ("2026-12-03 10:00") as epoch seconds."""
    local = datetime.fromisoformat(text)
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(Settings.from_env().timezone))
    return local.timestamp()


async def cmd_preview(redis, args) -> int:
    segment = segment_of(args)
    out({"segment": segment.to_dict(), "customers": await pushes.preview(redis, segment, datetime.now(timezone.utc))})
    return 0


async def cmd_create(redis, args) -> int:
    problems = pushes.validate(args.name, args.text, args.coupon or "", catalog().coupons, args.mass)
    if problems:
        out({"refused": problems})
        return 1
    push_id = await pushes.create(redis, name=args.name, text=args.text, segment=segment_of(args),
                                  coupon=args.coupon or "", at=when(args.at) if args.at else None, by=args.by,
                                  mass=args.mass)
    out({"push": push_id, "report": await pushes.report(redis, push_id)})
    return 0


async def cmd_report(redis, args) -> int:
    report = await pushes.report(redis, args.id)
    if report is None:
        print(f"no push {args.id}", file=sys.stderr)
        return 1
    if report["mass"]:
        report["mass_tasks"] = await mass.summary(redis, args.id)
    out(report)
    return 0


async def cmd_list(redis, args) -> int:
    rows = []
    for push_id in await pushes.recent(redis, args.count):
        push = await pushes.get(redis, push_id)
        if push:
            rows.append({"id": push.id, "name": push.name, "status": push.status, "at": push.at, "by": push.by})
    out({"pushes": rows})
    return 0


async def cmd_cancel(redis, args) -> int:
    done = await pushes.cancel(redis, args.id)
    out({"push": args.id, "cancelled": done})
    return 0 if done else 1


def add_segment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--any", nargs="+", metavar="TAG")
    parser.add_argument("--all", nargs="+", metavar="TAG")
    parser.add_argument("--none", nargs="+", metavar="TAG")
    parser.add_argument("--level", nargs="+")
    parser.add_argument("--active-days", type=int)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("preview"); add_segment(p); p.set_defaults(run=cmd_preview)
    p = sub.add_parser("create"); add_segment(p)
    p.add_argument("--name", required=True); p.add_argument("--text", required=True); p.add_argument("--coupon")
    p.add_argument("--at"); p.add_argument("--by", default="ops-cli"); p.add_argument("--mass", action="store_true")
    p.set_defaults(run=cmd_create)
    p = sub.add_parser("report"); p.add_argument("id"); p.set_defaults(run=cmd_report)
    p = sub.add_parser("list"); p.add_argument("--count", type=int, default=20); p.set_defaults(run=cmd_list)
    p = sub.add_parser("cancel"); p.add_argument("id"); p.set_defaults(run=cmd_cancel)
    args = parser.parse_args(argv)

    async def run() -> int:
        redis = make_redis()
        try:
            return await args.run(redis, args)
        finally:
            await redis.close()

    try:
        return asyncio.run(run())
    except redis_settings.UNAVAILABLE as error:
        print(f"Redis unavailable at {redis_settings.redis_url()}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
