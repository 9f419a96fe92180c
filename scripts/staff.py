"""Console staff accounts (guides, ops, admins): made and changed here, on the machine
that reaches Redis, never through a page without a session (bot/console/staff.py).

    .venv/rasa/bin/python scripts/staff.py add NAME --role guide|ops|admin [--display 林导购] [--guide-userid U]
    .venv/rasa/bin/python scripts/staff.py passwd NAME        # new password; signs NAME out everywhere
    .venv/rasa/bin/python scripts/staff.py disable NAME       # signs NAME out everywhere
    .venv/rasa/bin/python scripts/staff.py enable NAME
    .venv/rasa/bin/python scripts/staff.py list

The password is read from the terminal (twice), or from standard input with
--password-stdin (one line), never from the command line. Redis: $REDIS_URL,
else the embedded `make run` Redis (127.0.0.1:$EMBEDDED_REDIS_PORT, 6399).
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.console import staff  # noqa: E402
from bot.redis_conn import close_all, get_redis  # noqa: E402
from common.dotenv import load_dotenv  # noqa: E402
from common.redis_settings import UNAVAILABLE  # noqa: E402


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise staff.AccountError("the two passwords differ")
    return first


async def run(args: argparse.Namespace) -> int:
    redis = get_redis()
    try:
        if args.command == "list":
            for account in await staff.list_accounts(redis):
                print(json.dumps(account.__dict__, ensure_ascii=False))
            return 0
        current = await staff.get_account(redis, args.name)
        if args.command == "add":
            if current is not None:
                raise staff.AccountError(f"{args.name} exists: use passwd, disable or enable")
            await staff.save_account(redis, args.name, args.role, read_password(args.password_stdin),
                                     args.display or "", args.guide_userid or "")
        elif current is None:
            raise staff.AccountError(f"no account {args.name}")
        elif args.command == "passwd":
            await staff.save_account(redis, current.username, current.role, read_password(args.password_stdin),
                                     current.display, current.guide_userid, current.disabled)
            await staff.end_sessions_of(redis, current.username)
        else:  # disable / enable
            await staff.save_account(redis, current.username, current.role, None, current.display,
                                     current.guide_userid, disabled=args.command == "disable")
        print(json.dumps((await staff.get_account(redis, args.name)).__dict__, ensure_ascii=False))
        return 0
    finally:
        await close_all()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=staff.ROLES)
    add.add_argument("--display")
    add.add_argument("--guide-userid", help="the guide's WeCom userid (role guide)")
    for name in ("passwd", "disable", "enable"):
        commands.add_parser(name).add_argument("name")
    commands.add_parser("list")
    for sub in (add, commands.choices["passwd"]):
        sub.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    load_dotenv()
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:{os.environ.get('EMBEDDED_REDIS_PORT', '6399')}/0")
    try:
        return asyncio.run(run(args))
    except staff.AccountError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    except UNAVAILABLE as error:
        print(f"Redis unavailable: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
