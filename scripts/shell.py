"""`make shell`: chat with the running bot in the terminal, as a consumer.

Talks to Rasa's REST webhook (RASA_URL, or http://127.0.0.1:$RASA_PORT) as a
trusted caller: it presents RASA_TOKEN (from the environment or .env) as
`Authorization: Bearer`. The conversation runs as `rest:<session>`. Bot buttons
are shown as numbered options; what you type is sent as typed, and the server
maps a number (or an option's title) to the option, as on WeChat. Ctrl-D,
Ctrl-C or "exit" quits. Stdlib only.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.dotenv import load_dotenv  # noqa: E402
from bot.persona import PersonaNotFound, load_persona  # noqa: E402

try:
    import readline  # noqa: F401  (line editing and history for input())
except ImportError:  # pragma: no cover - not on every platform
    pass

QUIT = {"exit", "quit", "退出"}


class BotNotRunning(Exception):
    pass


def rasa_url() -> str:
    return os.environ.get("RASA_URL") or f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}"


def send(base_url: str, sender: str, message: str, token: str, timeout_s: float = 60) -> List[Dict[str, Any]]:
    request = urllib.request.Request(
        f"{base_url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode("utf-8"),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        if error.code == 401:
            return [{"text": "（Rasa 拒绝了请求：RASA_TOKEN 不对。它和 make run 用的 .env 里的要一致）"}]
        return [{"text": f"（Rasa 返回 HTTP {error.code}）"}]
    except (urllib.error.URLError, OSError) as error:
        raise BotNotRunning(str(error)) from error


def show(name: str, messages: List[Dict[str, Any]]) -> None:
    """Print the bot's messages, buttons as numbered options."""
    for message in messages:
        if message.get("text"):
            lines = str(message["text"]).splitlines() or [""]
            print(f"{name}：{lines[0]}")
            for line in lines[1:]:
                print(" " * (len(name) * 2 + 2) + line)
        if message.get("image"):
            print(f"{name}：[图片] {message['image']}")
        buttons = [b for b in message.get("buttons") or [] if isinstance(b, dict)]
        for number, button in enumerate(buttons, 1):
            print(f"    {number}. {button.get('title', '')}")
    if not messages:
        print(f"{name}：（没有回复）")


def main() -> int:
    load_dotenv()
    parser = argparse.ArgumentParser(description="和正在运行的机器人聊天（以顾客身份）")
    parser.add_argument("--sender", default=f"shell-{secrets.token_hex(4)}", help="会话 id（默认随机）")
    args = parser.parse_args()

    base_url = rasa_url().rstrip("/")
    token = os.environ.get("RASA_TOKEN", "")
    if not token:
        print("没有找到 RASA_TOKEN（make run 第一次运行时会把它写进 .env）。", file=sys.stderr)
        return 1
    try:
        name = load_persona(os.environ.get("PERSONA") or None).name
    except PersonaNotFound:
        name = "机器人"
    try:
        urllib.request.urlopen(f"{base_url}/", timeout=3).close()
    except (urllib.error.URLError, OSError):
        print(f"机器人没有在运行（{base_url} 连不上）。先运行 make run，再开一个终端运行 make shell。", file=sys.stderr)
        return 1

    shown = args.sender if ":" in args.sender else f"rest:{args.sender}"
    print(f"正在和{name}聊天（{base_url}，会话 {shown}）。输入 exit 或按 Ctrl-D 退出。\n")
    while True:
        try:
            text = input("我：")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text.strip().lower() in QUIT:
            return 0
        if not text.strip():
            continue
        try:
            show(name, send(base_url, args.sender, text, token))
        except BotNotRunning:
            print(f"和机器人的连接断了（{base_url}）。先运行 make run，再试一次。", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
