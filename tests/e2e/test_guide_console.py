"""The guide console (/guide/) in headless Chromium on the real stack: a guide signs in,
sees a waiting customer appear live, takes the conversation, reads what the customer
said to the persona, replies (the 公众号 customer receives it), transfers it with a note to
a colleague, who ends it (the persona is back). Tried as an attacker would: a guide cannot
open a colleague's conversation, and a state change without the CSRF token is refused."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import redis
import requests
from playwright.sync_api import Browser, Page, expect

from tests.channels.helpers import StandIn, wait_for
from tests.e2e.guides import answer_to, custom_sent, customer_app, notice_about, request_id_of, to_guide

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "console-pass-" + secrets.token_hex(4)
LIVE_MS = 15_000

# 抢单: waiting requests stay until a guide takes one. At first nobody is on duty, so the
# customer waits; then 美导购 and 周导购 start their shift.
OFF_DUTY = """timezone: Asia/Shanghai
reply_timeout_min: 120
idle_timeout_min: 120
offer: pick
guides:
  - {userid: guide-e2e-mei, name: 美导购, group: shanghai, capacity: 3, hours: {}}
  - {userid: guide-e2e-zhou, name: 周导购, group: shanghai, capacity: 3, hours: {}}
"""
ON_DUTY = OFF_DUTY.replace("hours: {}", 'hours: {mon-sun: "00:00-24:00"}')


def account(stack, userid: str, display: str) -> str:
    name = f"{userid}-{secrets.token_hex(2)}"
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "staff.py"), "add", name, "--role", "guide", "--password-stdin",
         "--guide-userid", userid, "--display", display], input=PASSWORD + "\n", capture_output=True, text=True,
        timeout=60, env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})
    assert made.returncode == 0, made.stderr
    return name


@pytest.fixture
def console(browser: Browser, stack) -> Iterator:
    contexts = []

    def open_as(name: str) -> Page:
        context = browser.new_context(viewport={"width": 390, "height": 780}, locale="zh-CN")  # a phone
        contexts.append(context)
        page = context.new_page()
        page.goto(stack.console_url + "/guide/")
        page.locator("#username").fill(name)
        page.locator("#password").fill(PASSWORD)
        page.locator("#login-form button").click()
        expect(page.locator("#lists")).to_be_visible()
        expect(page.locator("#live")).to_have_text("实时更新中", timeout=LIVE_MS)
        return page
    yield open_as
    for context in contexts:
        context.close()


def test_a_guide_takes_replies_and_transfers_and_a_colleague_ends_it(stack, wechat, console, rewrite_roster):
    write_roster, _ = rewrite_roster
    write_roster(OFF_DUTY)
    stand_in, customer = StandIn(wechat.api_base), customer_app(stack, wechat)
    mei = console(account(stack, "guide-e2e-mei", "美导购"))
    waiting = mei.locator("#conversations li")
    already = waiting.count()  # left waiting by earlier tests on this stack, if any

    openid = "oConsole" + secrets.token_hex(4)
    marker = "我想问下色号" + secrets.token_hex(2)
    answer_to(customer, stand_in, openid, marker)
    assert "上班" in answer_to(customer, stand_in, openid, "转人工")  # nobody on duty: she says when
    expect(waiting).to_have_count(already + 1, timeout=LIVE_MS)  # appeared without a reload
    write_roster(ON_DUTY)

    waiting.last.locator("button.take").click()  # the newest waits last (first come, first served)
    expect(mei.locator("#conversation")).to_be_visible()
    expect(mei.locator("#transcript")).to_contain_text(marker)  # what the customer told the persona before
    request_id = mei.locator("#customer").inner_text().split("#")[-1]

    mei.locator("#quick").select_option(label="问候")
    expect(mei.locator("#reply")).to_have_value("您好，我是您的专属导购，很高兴为您服务～请问有什么可以帮您？")
    mei.locator("#reply").fill("您好，我是美导购，色号的事我来帮您")
    mei.locator("#reply-form button").click()
    assert wait_for(lambda: "您好，我是美导购，色号的事我来帮您" in custom_sent(stand_in, openid), timeout_s=30)

    # She tags the customer; the tag log says who did it.
    mei.locator("#tag-add").select_option("intent:high")
    mei.locator("#tag-form button").click()
    expect(mei.locator("#tag-list")).to_contain_text("意向:高意向")
    store = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    cid = store.get(f"{{brand}}:cust:ident:wechat_mp:{openid}")
    logged = [json.loads(e) for e in store.lrange(f"{{brand}}:cust:{cid}:tag_log", 0, -1)]
    assert any(e.get("by", "").startswith("guide:guide-e2e-mei") for e in logged), logged

    # The customer answers: it shows in her open conversation live.
    assert customer.deliver(customer.text(openid, "我平时用 02 号")).reply is None
    expect(mei.locator("#transcript")).to_contain_text("我平时用 02 号", timeout=LIVE_MS)

    expect(mei.locator("#transfer-to option[value=guide-e2e-zhou]")).to_be_enabled()
    mei.locator("#transfer-to").select_option("guide-e2e-zhou")
    mei.locator("#transfer-note").fill("她在比较 02 和 03")
    mei.locator("#transfer-form button").click()
    expect(mei.locator("#lists")).to_be_visible()
    zhou_notice = notice_about(stand_in, "guide-e2e-zhou", marker)
    assert request_id_of(zhou_notice) == request_id and "她在比较 02 和 03" in zhou_notice
    assert wait_for(lambda: [t for t in custom_sent(stand_in, openid) if "周导购来啦" in t], timeout_s=30)

    # Mei no longer holds it: the server refuses her, whatever the page does.
    opened = mei.evaluate("id => fetch('/api/guide/conversations/' + id).then(r => r.status)", request_id)
    assert opened == 403

    zhou = console(account(stack, "guide-e2e-zhou", "周导购"))
    zhou.locator(".tab[data-view=mine]").click()
    zhou.locator("#conversations li", has_text=f"#{request_id} ").locator(".who").click()
    expect(zhou.locator("#profile")).to_contain_text("她在比较 02 和 03")
    zhou.locator("#end").click()
    expect(zhou.locator("#lists")).to_be_visible()
    assert wait_for(lambda: [t for t in custom_sent(stand_in, openid) if "七七回来啦" in t], timeout_s=30)
    assert "七七" in answer_to(customer, stand_in, openid, "你好")

    # Ops see the service levels: this handoff counted, its first reply timed.
    ops = console(account_with_role(stack, "ops"))
    ops.locator(".tab[data-view=levels]").click()
    expect(ops.locator("#levels-summary")).to_contain_text("次转人工")
    expect(ops.locator("#levels tbody")).to_contain_text("周导购")  # who held it last


def account_with_role(stack, role: str) -> str:
    name = f"{role}-{secrets.token_hex(3)}"
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "staff.py"), "add", name, "--role", role,
                           "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                          env={**os.environ, "REDIS_URL": stack.redis_url, "PYTHONPATH": str(ROOT)})
    assert made.returncode == 0, made.stderr
    return name


def test_state_changes_need_the_csrf_token_and_the_conversation_s_own_guide(stack, wechat, rewrite_roster):
    write_roster, _ = rewrite_roster
    write_roster(ON_DUTY)
    stand_in, customer = StandIn(wechat.api_base), customer_app(stack, wechat)
    openid = "oAttack" + secrets.token_hex(4)
    marker = "你好呀" + secrets.token_hex(2)
    answer_to(customer, stand_in, openid, marker)
    promised = answer_to(customer, stand_in, openid, "转人工")
    holder = "guide-e2e-mei" if "美导购" in promised else "guide-e2e-zhou"
    other = "guide-e2e-zhou" if holder == "guide-e2e-mei" else "guide-e2e-mei"
    request_id = request_id_of(notice_about(stand_in, holder, marker))

    def signed_in(userid: str) -> requests.Session:
        session = requests.Session()
        answer = session.post(f"{stack.console_url}/api/staff/login",
                              json={"username": account(stack, userid, userid), "password": PASSWORD}, timeout=10)
        assert answer.status_code == 200
        session.headers["X-Test-CSRF"] = answer.json()["csrf_token"]
        return session

    base = f"{stack.console_url}/api/guide/conversations/{request_id}"
    intruder = signed_in(other)
    assert intruder.get(base, timeout=10).status_code == 403
    csrf = {"X-CSRF-Token": intruder.headers["X-Test-CSRF"]}
    assert intruder.post(f"{base}/reply", json={"text": "我来插一句"}, headers=csrf, timeout=10).status_code == 403
    assert intruder.post(f"{base}/end", headers=csrf, timeout=10).status_code == 403
    assert intruder.get(f"{stack.console_url}/api/guide/conversations?view=all", timeout=10).status_code == 403

    own = signed_in(holder)
    assert own.get(base, timeout=10).status_code == 200
    assert own.post(f"{base}/reply", json={"text": "没有令牌"}, timeout=10).status_code == 403  # no CSRF token
    assert requests.post(f"{base}/end", timeout=10).status_code == 401  # no session at all
    assert requests.get(f"{stack.console_url}/api/guide/events", timeout=10).status_code == 401
    assert "没有令牌" not in custom_sent(stand_in, openid) and "我来插一句" not in custom_sent(stand_in, openid)
    assert own.post(f"{base}/end", headers={"X-CSRF-Token": own.headers["X-Test-CSRF"]}, timeout=10).status_code == 200
    assert wait_for(lambda: [t for t in custom_sent(stand_in, openid) if "七七回来啦" in t], timeout_s=30)
    assert [n for n in to_guide(stand_in, holder) if f"#{request_id} 接待已结束" in n] or \
        wait_for(lambda: [n for n in to_guide(stand_in, holder) if f"#{request_id} 接待已结束" in n], timeout_s=30)


def test_a_guide_opening_the_console_in_wecom_is_signed_in_by_wecom(browser: Browser, stack, wechat):
    userid = "guide-e2e-ou" + secrets.token_hex(3)
    account(stack, userid, "欧导购")
    requests.post(f"{wechat.api_base}/_stand_in/oauth/user", json={"userid": userid}, timeout=5)
    context = browser.new_context(viewport={"width": 390, "height": 780}, locale="zh-CN")
    try:
        page = context.new_page()
        codes = []
        page.on("request", lambda r: codes.append(r.url) if "/guide/oauth/wecom" in r.url else None)
        page.goto(stack.console_url + "/guide/login/wecom")  # the link the WeCom app's menu opens
        expect(page.locator("#lists")).to_be_visible(timeout=LIVE_MS)
        expect(page.locator("#me")).to_have_text("欧导购")
        assert codes, "WeCom sent the guide back with a code"
        # The same link again (a leaked URL) signs nobody in.
        replay = context.new_page()
        replay.goto(codes[0])
        expect(replay.locator("body")).to_contain_text("请从企业微信里重新打开导购工作台")
    finally:
        context.close()


def test_wecom_sign_in_refuses_a_link_made_elsewhere_and_a_member_without_an_account(stack, wechat):
    requests.post(f"{wechat.api_base}/_stand_in/oauth/user", json={"userid": "guide-e2e-nobody"}, timeout=5)
    started = requests.get(f"{stack.console_url}/guide/login/wecom", allow_redirects=False, timeout=10)
    assert started.status_code == 302 and "snsapi_base" in started.headers["Location"]
    back = requests.get(started.headers["Location"].split("#")[0], allow_redirects=False, timeout=10)
    callback = back.headers["Location"]
    # Without the state cookie the browser got on the way out (an attacker's link): refused.
    assert requests.get(callback, timeout=10).status_code == 403
    # With it, but the WeCom member has no guide account: refused, no session.
    answer = requests.get(callback, cookies=started.cookies, timeout=10)
    assert answer.status_code == 403 and "还没有开通" in answer.text
    assert "staff_session" not in answer.cookies
    # A code is good once, as at WeCom.
    again = requests.get(callback, cookies=started.cookies, timeout=10)
    assert again.status_code == 401 and "已失效" in again.text
