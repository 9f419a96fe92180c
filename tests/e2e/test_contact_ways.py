"""锁客 on the real stack (issue 12, item 2): ops make a 联系我 QR code per guide with
scripts/contact_way.py (add_contact_way at the stand-in, config_id kept); a customer added
through guide A's code with state s1 is bound to A and tagged, and gets the persona's
welcome through send_welcome_msg with the event's WelcomeCode; a later add through guide
B's code does not move them; a retried callback welcomes once."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import redis
import requests

from common.handoff_routing import WAY_PREFIX, profile_key
from tests.channels.helpers import StandIn, wait_for
from tests.e2e.guides import guide_app

ROOT = Path(__file__).resolve().parents[2]
WELCOME = "/cgi-bin/externalcontact/send_welcome_msg"


def contact_way(stack, wechat, *args: str) -> dict:
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "contact_way.py"), *args], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, **wechat.env(), "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def added_by(app, wechat, guide: str, external: str, state: str, code: str, at: int) -> None:
    xml = app.event("sys", "change_external_contact", ChangeType="add_external_contact", UserID=guide,
                    ExternalUserID=external, State=state, WelcomeCode=code, create_time=at)
    assert app.deliver(xml).acknowledged


def welcome_code(wechat) -> str:
    return requests.post(f"{wechat.api_base}/_stand_in/contact/welcome_code", timeout=5).json()["welcome_code"]


def test_a_contact_way_binds_tags_and_welcomes_and_a_second_guide_does_not_take_the_customer(stack, wechat):
    stand_in, app = StandIn(wechat.api_base), guide_app(stack, wechat)
    s1, s2 = "s1" + secrets.token_hex(3), "s2" + secrets.token_hex(3)
    lin = contact_way(stack, wechat, "add", s1, "--guide", "guide-e2e-lin", "--tag", "channel:wecom",
                      "--tag", "audience:student")
    contact_way(stack, wechat, "add", s2, "--guide", "guide-e2e-chen", "--tag", "intent:high")
    made = [c["body"] for c in stand_in.calls("/cgi-bin/externalcontact/add_contact_way")]
    assert {"type": 1, "scene": 2, "state": s1, "user": ["guide-e2e-lin"], "skip_verify": True} in made
    assert lin["config_id"] and lin["qr_code"].startswith("https://")
    store = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    assert store.hget(WAY_PREFIX + s1, "config_id") == lin["config_id"]  # WeCom's admin will not list it

    external = "wmLock" + secrets.token_hex(4)
    code, at = welcome_code(wechat), int(time.time())
    added_by(app, wechat, "guide-e2e-lin", external, s1, code, at)
    added_by(app, wechat, "guide-e2e-lin", external, s1, code, at)  # WeCom retried the callback
    welcomed = wait_for(lambda: [b for b in stand_in.sent(WELCOME) if b["welcome_code"] == code], timeout_s=30)
    assert welcomed and "林导购" in welcomed[0]["text"]["content"]
    time.sleep(1.0)
    assert len([c for c in stand_in.calls(WELCOME) if c["body"]["welcome_code"] == code]) == 1  # once
    cid = store.get(f"{{brand}}:cust:ident:wecom_kf:{external}")
    assert store.hget(profile_key(cid), "guide") == "guide-e2e-lin"
    assert {"channel:wecom", "audience:student"} <= store.smembers(f"{{brand}}:cust:{cid}:tags")

    second = welcome_code(wechat)
    added_by(app, wechat, "guide-e2e-chen", external, s2, second, int(time.time()))
    assert wait_for(lambda: [b for b in stand_in.sent(WELCOME) if b["welcome_code"] == second], timeout_s=30)
    assert store.hget(profile_key(cid), "guide") == "guide-e2e-lin"  # the second scan still lands on lin
    assert "intent:high" in store.smembers(f"{{brand}}:cust:{cid}:tags")

    assert contact_way(stack, wechat, "delete", s2) == {"deleted": s2}
    assert [c["body"] for c in stand_in.calls("/cgi-bin/externalcontact/del_contact_way")][-1]["config_id"]
    assert not store.exists(WAY_PREFIX + s2)
