"""A real Sanic app mounting the three WeChat channel blueprints, as Rasa does,
with an `on_new_message` the tests control (no model needed).

Channels are built from a credentials.yml with ${ENV} values through Rasa's own
loader, so this also proves they load the way `rasa run` loads them.

Handler behaviour by message text:
    "slow:<s> rest"  sleep s seconds, then echo "rest"
    "wait:<key> rest"  wait until the Redis key test:go:<key> exists, then echo "rest"
                     (a handler stalled mid-page, deterministically, for crash tests)
    "buttons"        a question with three buttons
    "buttons2"       another question with three other buttons (a newer menu)
    "long:<n>"       n long Chinese sentences with emoji
    "boom"           raise (the channel must send the persona apology)
    anything else    "回声：<text>"
Every message that reaches "Rasa" is appended to the Redis list test:received.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
from pathlib import Path

import redis.asyncio as aioredis
from rasa.core.channels.channel import UserMessage
from rasa.shared.utils.common import class_from_module_path
from rasa.shared.utils.io import read_config_file
from sanic import Sanic, response

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CREDENTIALS = """
bot.channels.wechat_mp.WeChatMPInput:
  appid: ${WECHAT_MP_APPID}
  secret: ${WECHAT_MP_SECRET}
  token: ${WECHAT_MP_TOKEN}
  aes_key: ${WECHAT_MP_AES_KEY}
bot.channels.wecom_kf.WeComKFInput:
  corp_id: ${WECOM_CORP_ID}
  secret: ${WECOM_KF_SECRET}
  token: ${WECOM_KF_TOKEN}
  aes_key: ${WECOM_KF_AES_KEY}
bot.channels.wecom.WeComInput:
  corp_id: ${WECOM_CORP_ID}
  agent_id: ${WECOM_AGENT_ID}
  secret: ${WECOM_SECRET}
  token: ${WECOM_TOKEN}
  aes_key: ${WECOM_AES_KEY}
"""

BUTTONS = [{"title": "每日签到", "payload": "/checkin"}, {"title": "幸运抽奖", "payload": "/lottery"},
           {"title": "找人工客服", "payload": "/human_handoff"}]
BUTTONS2 = [{"title": "我的优惠券", "payload": "/my_coupons"}, {"title": "我的奖品", "payload": "/my_prizes"},
            {"title": "推荐产品", "payload": "/recommend_product"}]


def long_text(n: int) -> str:
    return "".join(f"第{i}条：这款精华适合敏感肌，早晚各用一次，坚持使用皮肤会更稳定哦✨👩‍🔬！" for i in range(n))


def build_app(name: str, credentials_path: Path) -> Sanic:
    app = Sanic(name, configure_logging=False)
    redis = {}

    async def on_new_message(message: UserMessage) -> None:
        if "r" not in redis:
            redis["r"] = aioredis.from_url(os.environ["REDIS_URL"], decode_responses=True)
        await redis["r"].rpush("test:received", json.dumps(
            {"sender": message.sender_id, "text": message.text, "channel": message.input_channel,
             "metadata": message.metadata or {}, "message_id": message.message_id, "pid": os.getpid()},
            ensure_ascii=False))
        delay_min = float(os.environ.get("HANDLER_DELAY_MIN_S", "0"))
        delay_max = float(os.environ.get("HANDLER_DELAY_MAX_S", "0"))
        if delay_max:
            await asyncio.sleep(random.uniform(delay_min, delay_max))
        text = message.text or ""
        out = message.output_channel
        if text.startswith("slow:"):
            seconds, _, rest = text[5:].partition(" ")
            await asyncio.sleep(float(seconds))
            await out.send_text_message(message.sender_id, f"回声：{rest}")
        elif text.startswith("wait:"):
            key, _, rest = text[5:].partition(" ")
            while not await redis["r"].exists(f"test:go:{key}"):
                await asyncio.sleep(0.05)
            await out.send_text_message(message.sender_id, f"回声：{rest}")
        elif text == "buttons":
            await out.send_text_with_buttons(message.sender_id, "想做点什么？", BUTTONS)
        elif text == "buttons2":
            await out.send_text_with_buttons(message.sender_id, "还想看看什么？", BUTTONS2)
        elif text.startswith("long:"):
            await out.send_text_message(message.sender_id, long_text(int(text[5:])))
        elif text == "boom":
            raise RuntimeError("simulated Rasa failure")
        elif text.startswith("/"):
            await out.send_text_message(message.sender_id, f"已选择 {text}")
        else:
            await out.send_text_message(message.sender_id, f"回声：{text}")

    credentials = read_config_file(str(credentials_path))
    for class_path, values in credentials.items():
        channel = class_from_module_path(class_path).from_credentials(values)
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}")

    @app.get("/health")
    async def health(_):
        return response.json({"status": "ok", "pid": os.getpid()})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="channel_test_app")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    credentials_path = Path(os.environ.get("TEST_RUN_DIR", "/tmp")) / f"credentials-{args.port}.yml"
    credentials_path.write_text(CREDENTIALS, encoding="utf-8")
    build_app(args.name, credentials_path).run(host="127.0.0.1", port=args.port, access_log=False, motd=False,
                                                 workers=args.workers)


if __name__ == "__main__":
    main()
