"""The persona speaks first, on the whole stack: real channel, Rasa, model, action server and
the outbound worker `make run` starts; the stand-in's record is what customers received."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import requests

from bot.stack import ACTIONS_PY, RASA_PY
from bot.stand_in.simulator import WeChatSimulator
from tests.channels.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def cli(stack, python, *args: str) -> dict:
    done = subprocess.run([str(python), *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def said_to(wechat, openid: str, passive: list) -> str:
    """Everything the bot said to a 公众号 customer: passive replies and 客服消息."""
    sent = requests.get(f"{wechat.api_base}/_stand_in/sent", timeout=5).json()["sent"]
    active = [s["body"]["text"]["content"] for s in sent
              if s["path"] == "/cgi-bin/message/custom/send" and s["body"].get("touser") == openid]
    return "\n".join([p for p in passive if p] + active)


def test_a_card_scan_pays_once_td_opts_out_and_a_push_reaches_only_who_may_hear_it(stack, wechat):
    sim = WeChatSimulator(f"{stack.rasa_url}/webhooks/wechat_mp/webhook", wechat.mp_token, wechat.mp_aes_key,
                          wechat.mp_appid, "safe")
    buyer, neighbour, leaver = "oE2EBuyer01", "oE2ENeighbour1", "oE2ELeaver01"
    for user in (buyer, neighbour, leaver):
        assert "七七" in sim.deliver(sim.text(user, "你好")).reply["Content"]
    made = cli(stack, ACTIONS_PY, "scripts/ops.py", "codes-create", "e2e-pkg", "--count", "2", "--coupon", "welcome",
               "--draws", "1", "--campaign", "spring_wheel", "--product", "green_serum", "--valid-days", "30")
    code = made["sample"]["code"]
    scan = sim.deliver(sim.event(buyer, "SCAN", made["sample"]["mp_qr_scene_str"], Ticket="T"))
    told = wait_for(lambda: (lambda t: t if "兑换成功" in t else None)(
        said_to(wechat, buyer, [scan.reply and scan.reply.get("Content")])), timeout_s=30)
    assert "券码" in told and "额外抽奖 1 次" in told
    stolen = sim.deliver(sim.text(neighbour, f"兑换 {code}"))
    assert "已经被兑换过" in said_to(wechat, neighbour, [stolen.reply and stolen.reply.get("Content")])
    stats = cli(stack, ACTIONS_PY, "scripts/ops.py", "codes-stats", "e2e-pkg")
    assert stats["redeemed"] == 1 and stats["used_again"] == 1

    assert "退订" in sim.deliver(sim.text(leaver, "TD")).reply["Content"]
    before = requests.get(f"{wechat.api_base}/_stand_in/sent", timeout=5).json()["sent"]
    push = cli(stack, RASA_PY, "scripts/push.py", "create", "--name", "e2e 推送", "--text", "{you}好，周末会员日开始啦",
               "--any", "channel:package_card", "channel:wechat_mp")
    report = wait_for(lambda: (lambda r: r if r["status"] == "done" else None)(
        cli(stack, RASA_PY, "scripts/push.py", "report", push["push"])), timeout_s=60, interval_s=0.5)
    after = requests.get(f"{wechat.api_base}/_stand_in/sent", timeout=5).json()["sent"][len(before):]
    got = {s["body"]["touser"] for s in after if "周末会员日" in json.dumps(s["body"], ensure_ascii=False)}
    assert buyer in got and neighbour in got and leaver not in got
    assert report["refused"].get("opted_out", 0) >= 1 and report["sent"] == len(got)
    assert all("回复 TD 退订" in s["body"]["text"]["content"] for s in after if s["body"]["touser"] in got)
