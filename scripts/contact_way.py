"""Acquisition ways (渠道活码, issue 12 item 2): which QR code or link a customer came through
decides their first tags and, for one guide, their guide (锁客).

    .venv/rasa/bin/python scripts/contact_way.py add STATE --guide U [--guide U2 …] [--tag ID …]
                                                 [--welcome TEXT] [--remark TEXT] [--rebind]
        makes a WeCom 联系我 QR code (externalcontact/add_contact_way: one guide or several,
        `state` ≤ 30 characters) and keeps it with its config_id (WeCom's admin does not list
        ways made by API) and the QR code's URL
    .venv/rasa/bin/python scripts/contact_way.py add STATE --local --tag ID … [--guide U]
        the same mapping for a state used elsewhere: a 公众号 parametric QR code (qrscene_STATE)
        or a 微信客服 link's scene_param; nothing is made in WeCom
    .venv/rasa/bin/python scripts/contact_way.py list
    .venv/rasa/bin/python scripts/contact_way.py delete STATE      # also deletes it in WeCom

`--welcome` replaces the persona's welcome for customers a guide adds through this way.
`--rebind`: an add through this way moves a customer already bound to another guide.
Redis: $REDIS_URL, else the embedded `make run` Redis. WeCom: $WECOM_CORP_ID with
$WECOM_CONTACT_SECRET (客户联系 secret), else the guide app's $WECOM_SECRET (then the app must be
one of 客户联系's 可调用应用).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.services.catalog import catalog  # noqa: E402
from bot.redis_conn import close_all, get_redis  # noqa: E402
from bot.wechat.api import ApiError, WeComAppClient  # noqa: E402
from common.dotenv import load_dotenv  # noqa: E402
from common.env import env_str  # noqa: E402
from common.handoff_routing import WAY_PREFIX  # noqa: E402
from common.redis_settings import UNAVAILABLE  # noqa: E402

MAX_STATE_CHARS = 30  # WeCom's limit for a 联系我 state


class Refused(ValueError):
    pass


def wecom_client(redis) -> WeComAppClient:
    corp = env_str("WECOM_CORP_ID")
    secret = env_str("WECOM_CONTACT_SECRET") or env_str("WECOM_SECRET")
    if not corp or not secret:
        raise Refused("WECOM_CORP_ID and WECOM_CONTACT_SECRET (or WECOM_SECRET) are needed to make a 联系我 code")
    return WeComAppClient(env_str("WECOM_API_BASE", "https://qyapi.weixin.qq.com"), redis, corp, secret,
                          env_str("WECOM_AGENT_ID") or "contact")


def checked(args: argparse.Namespace) -> None:
    if not args.state or len(args.state) > MAX_STATE_CHARS:
        raise Refused(f"state must be 1–{MAX_STATE_CHARS} characters")
    unknown = [t for t in args.tag or [] if t not in catalog().tags]
    if unknown:
        raise Refused(f"unknown tag ids (data/catalog/tags.yml): {', '.join(unknown)}")
    if not args.local and not args.guide:
        raise Refused("a 联系我 code needs at least one --guide (WeCom userid)")


async def add(redis, args: argparse.Namespace) -> Dict[str, str]:
    checked(args)
    if await redis.exists(WAY_PREFIX + args.state):
        raise Refused(f"state {args.state} exists: delete it first")
    way = {"state": args.state, "guides": ",".join(args.guide or []), "tags": ",".join(args.tag or []),
           "welcome": args.welcome or "", "rebind": "1" if args.rebind else "0", "kind": "local" if args.local else
           "contact_way", "created_at": datetime.now(timezone.utc).isoformat()}
    if not args.local:
        made = await wecom_client(redis).add_contact_way(args.guide, args.state, args.remark or "")
        way.update(config_id=str(made.get("config_id") or ""), qr_code=str(made.get("qr_code") or ""))
    await redis.hset(WAY_PREFIX + args.state, mapping=way)
    return way


async def delete(redis, state: str) -> Dict[str, str]:
    way = await redis.hgetall(WAY_PREFIX + state)
    if not way:
        raise Refused(f"no way {state}")
    if way.get("config_id"):
        await wecom_client(redis).del_contact_way(way["config_id"])
    await redis.delete(WAY_PREFIX + state)
    return way


async def listed(redis) -> List[Dict[str, str]]:
    return [await redis.hgetall(key) async for key in redis.scan_iter(match=WAY_PREFIX + "*", count=500)]


async def run(args: argparse.Namespace) -> int:
    redis = get_redis()
    try:
        if args.command == "list":
            for way in sorted(await listed(redis), key=lambda w: w.get("state", "")):
                print(json.dumps(way, ensure_ascii=False))
        elif args.command == "add":
            print(json.dumps(await add(redis, args), ensure_ascii=False))
        else:
            print(json.dumps({"deleted": (await delete(redis, args.state))["state"]}, ensure_ascii=False))
        return 0
    finally:
        await close_all()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("add")
    made.add_argument("state")
    made.add_argument("--guide", action="append", help="a guide's WeCom userid (repeat for several)")
    made.add_argument("--tag", action="append", help="a tag id to give (repeat for several)")
    made.add_argument("--welcome")
    made.add_argument("--remark")
    made.add_argument("--rebind", action="store_true")
    made.add_argument("--local", action="store_true", help="a 公众号 / 微信客服 state: nothing made in WeCom")
    commands.add_parser("delete").add_argument("state")
    commands.add_parser("list")
    args = parser.parse_args(argv)
    load_dotenv()
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:{os.environ.get('EMBEDDED_REDIS_PORT', '6399')}/0")
    try:
        return asyncio.run(run(args))
    except Refused as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    except ApiError as error:
        print(f"WeCom refused: {error}", file=sys.stderr)
        return 3
    except UNAVAILABLE as error:
        print(f"Redis unavailable: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
