"""python -m bot.stand_in --port N [--host H]: run the WeChat/WeCom API stand-in.

Listens on $STAND_IN_HOST, else 127.0.0.1 (it is a test double: never expose it)."""
from __future__ import annotations

import argparse
import os

from bot.stand_in.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for the WeChat and WeCom HTTP APIs.")
    parser.add_argument("--host", default=os.environ.get("STAND_IN_HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    print(f"WeChat API stand-in on http://{args.host}:{args.port}  "
          f"(set WECHAT_API_BASE and WECOM_API_BASE to this URL; record at /_stand_in/record)", flush=True)
    create_app().run(host=args.host, port=args.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
