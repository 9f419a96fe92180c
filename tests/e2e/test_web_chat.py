"""The demo web chat in a real headless Chromium against the running stack.

The console issues the session (HttpOnly cookie) and a CSRF token; the page
sends only what was typed or the clicked option's title, and the server maps a
number or a title to the option."""
from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator, List

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, Route, expect

from bot.redis_server import free_port
from bot.stack import RASA_PY, Service
from tests.channels.helpers import StandIn, wait_for
from tests.e2e.guides import guide_app, guide_named_in, guide_says, notice_about, request_id_of, to_guide

SCREENSHOT = Path("/tmp/webchat.png")
BOT_REPLY_TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser: Browser, stack) -> Iterator[Page]:
    """A fresh browser profile (own cookie jar, so its own web session) on the web chat."""
    context = browser.new_context(viewport={"width": 420, "height": 760}, locale="zh-CN")
    opened = context.new_page()
    opened.goto(stack.console_url + "/")
    expect(opened.locator("#app.ready")).to_be_attached()
    yield opened
    context.close()


def bot_bubbles(page: Page):
    return page.locator(".row.bot:not(.typing) .bubble")


def send(page: Page, text: str) -> None:
    """Type a message and press Enter; wait until the bot's answer is shown."""
    before = bot_bubbles(page).count()
    page.locator("#input").fill(text)
    page.locator("#input").press("Enter")
    expect(bot_bubbles(page)).not_to_have_count(before, timeout=BOT_REPLY_TIMEOUT_MS)
    expect(page.locator(".row.typing")).to_have_count(0, timeout=BOT_REPLY_TIMEOUT_MS)


def chat_requests(page: Page) -> List[dict]:
    sent: List[dict] = []

    def record(request: Request) -> None:
        if request.url.endswith("/api/chat") and request.method == "POST":
            sent.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    return sent


def test_page_shows_the_persona_name_and_avatar(page: Page):
    expect(page.locator("#title")).to_have_text("七七")
    assert "七七" in page.title()
    avatar = page.locator(".row.bot img.avatar").first
    expect(avatar).to_have_attribute("src", "/static/avatars/qiqi.svg")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=avatar.element_handle())
    # The intro bubble is the persona's self-introduction.
    expect(bot_bubbles(page).first).to_contain_text("我是七七")


def test_hello_gets_a_user_bubble_and_a_persona_reply(page: Page):
    send(page, "你好")
    expect(page.locator(".row.user .text").last).to_have_text("你好")
    expect(bot_bubbles(page).last).to_contain_text("七七")
    # WeChat colours: green user bubble, white bot bubble.
    green = page.locator(".row.user .bubble").last.evaluate("e => getComputedStyle(e).backgroundColor")
    white = bot_bubbles(page).last.evaluate("e => getComputedStyle(e).backgroundColor")
    assert (green, white) == ("rgb(149, 236, 105)", "rgb(255, 255, 255)")


def test_typing_indicator_while_waiting(page: Page):
    held: List[Route] = []
    page.route("**/api/chat", lambda route: held.append(route))
    page.locator("#input").fill("你好")
    page.locator("#send").click()
    expect(page.locator("#title")).to_have_text("对方正在输入…")
    expect(page.locator(".row.typing")).to_have_count(1)
    assert held, "the message is on its way"
    held[0].continue_()
    expect(page.locator("#title")).to_have_text("七七", timeout=BOT_REPLY_TIMEOUT_MS)
    expect(page.locator(".row.typing")).to_have_count(0)


def test_buttons_show_as_numbered_options_and_a_click_sends_the_title(page: Page):
    sent = chat_requests(page)
    send(page, "你好")
    send(page, "我要投诉，太差了")
    option = bot_bubbles(page).last.locator(".option").first
    expect(option).to_have_text("1. 转人工")
    page.screenshot(path=str(SCREENSHOT))

    # Clicking sends the option's title (shown as the user's message); the server picks the option.
    before = bot_bubbles(page).count()
    option.click()
    expect(page.locator(".row.user .text").last).to_have_text("转人工")
    expect(bot_bubbles(page)).not_to_have_count(before, timeout=BOT_REPLY_TIMEOUT_MS)
    expect(bot_bubbles(page).last).to_contain_text("导购")
    expect(bot_bubbles(page).last).to_contain_text("请到")
    assert sent[-1] == {"message": "转人工"}


def test_a_typed_option_number_is_mapped_by_the_server(page: Page):
    sent = chat_requests(page)
    send(page, "我要投诉，太差了")
    expect(bot_bubbles(page).last.locator(".option").first).to_have_text("1. 转人工")
    send(page, "1")
    expect(page.locator(".row.user .text").last).to_have_text("1")
    expect(bot_bubbles(page).last).to_contain_text("请到")
    assert sent[-1] == {"message": "1"}
    assert all(set(body) == {"message"} for body in sent), "the page never sends a sender id"


def test_a_guide_takes_over_the_web_chat_and_hands_it_back(page: Page, stack, wechat):
    stand_in = StandIn(wechat.api_base)
    app = guide_app(stack, wechat)
    marker = "网页访客" + secrets.token_hex(3)
    send(page, marker)
    send(page, "转人工")
    guide = guide_named_in(bot_bubbles(page).last.inner_text())
    assert guide, bot_bubbles(page).last.inner_text()
    request_id = request_id_of(notice_about(stand_in, guide, marker))

    # While the guide holds it, what the visitor types reaches the guide and the bot stays quiet.
    page.locator("#input").fill("请问能开发票吗")
    page.locator("#input").press("Enter")
    assert wait_for(lambda: [n for n in to_guide(stand_in, guide) if "请问能开发票吗" in n], timeout_s=30)
    bubbles = bot_bubbles(page).count()

    guide_says(app, wechat, guide, f"#{request_id} 可以的，我发您开票链接")
    expect(bot_bubbles(page).last).to_contain_text("可以的，我发您开票链接", timeout=BOT_REPLY_TIMEOUT_MS)
    assert bot_bubbles(page).count() == bubbles + 1  # the guide's message, nothing from the bot

    guide_says(app, wechat, guide, f"#{request_id} 结束")
    expect(bot_bubbles(page).last).to_contain_text("七七回来啦", timeout=BOT_REPLY_TIMEOUT_MS)
    send(page, "你好")
    expect(bot_bubbles(page).last).to_contain_text("七七")


def test_the_session_cookie_is_httponly_and_not_in_local_storage(page: Page):
    send(page, "你好")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["webchat_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "webchat_session" not in page.evaluate("document.cookie")
    session_id = session["value"].split(".")[0]
    stored = page.evaluate("JSON.stringify(Object.assign({}, window.localStorage))")
    assert session_id not in stored and session["value"] not in stored


def test_html_in_a_message_is_text_and_newlines_are_kept(page: Page):
    attack = '<img src=x onerror="window.__xss=1"><b>粗体</b><script>window.__xss=2</script>'
    send(page, attack)
    expect(page.locator(".row.user .text").last).to_have_text(attack)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#messages b, #messages script, #messages img[src='x']").count() == 0

    page.locator("#input").fill("第一行\n第二行")
    page.locator("#input").press("Enter")
    user_text = page.locator(".row.user .text").last
    expect(user_text).to_have_text("第一行\n第二行")
    assert user_text.inner_text() == "第一行\n第二行"  # rendered on two lines
    expect(page.locator(".row.typing")).to_have_count(0, timeout=BOT_REPLY_TIMEOUT_MS)


def test_a_reload_continues_the_conversation(page: Page):
    sent = chat_requests(page)
    send(page, "你好")
    cookie = [c["value"] for c in page.context.cookies() if c["name"] == "webchat_session"]
    page.reload()
    expect(page.locator(".row.user .text").last).to_have_text("你好")
    send(page, "谢谢")
    assert len(sent) == 2
    assert [c["value"] for c in page.context.cookies() if c["name"] == "webchat_session"] == cookie


def web_session(base_url: str) -> requests.Session:
    """A cookie jar holding a console web session, with its CSRF header set."""
    http = requests.Session()
    opened = http.get(f"{base_url}/api/session", timeout=10)
    opened.raise_for_status()
    http.headers["X-CSRF-Token"] = opened.json()["csrf_token"]
    return http


def test_chat_api_refuses_malformed_json(stack):
    http = web_session(stack.console_url)
    response = http.post(f"{stack.console_url}/api/chat", data=b"{not json", timeout=10)
    assert response.status_code == 400 and "error" in response.json()
    response = http.post(f"{stack.console_url}/api/chat", json={"message": 42}, timeout=10)
    assert response.status_code == 400
    log = (stack.run_dir / "logs" / "console.log").read_text(errors="replace")
    assert "malformed JSON body" in log


@pytest.fixture(scope="module")
def dead_rasa_console(stack, tmp_path_factory) -> Iterator[Service]:
    """A second console whose RASA_URL points at a closed port."""
    port = free_port()
    service = Service(
        "console-dead-rasa",
        [str(RASA_PY), "-m", "bot.console", "--port", str(port)],
        f"http://127.0.0.1:{port}/healthz",
        tmp_path_factory.mktemp("dead") / "console.log",
    )
    service.start({**stack.env(), "RASA_URL": f"http://127.0.0.1:{free_port()}"})
    try:
        service.wait(60)
        yield service
    finally:
        service.stop()


def test_rasa_down_gets_the_persona_apology(dead_rasa_console, browser: Browser):
    base = dead_rasa_console.health_url.rsplit("/", 1)[0]
    response = web_session(base).post(f"{base}/api/chat", json={"message": "你好"}, timeout=15)
    assert response.status_code == 200
    body = response.json()
    assert body["degraded"] is True
    assert [m["text"] for m in body["messages"]] == ["抱歉你，七七暂时连不上，请稍后再试～"]
    assert "Rasa unreachable" in dead_rasa_console.log_path.read_text(errors="replace")

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + "/")
        expect(page.locator("#app.ready")).to_be_attached()
        send(page, "你好")
        expect(bot_bubbles(page).last).to_have_text("抱歉你，七七暂时连不上，请稍后再试～")
    finally:
        context.close()
