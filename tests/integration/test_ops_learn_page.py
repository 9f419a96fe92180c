"""The 待学习 tab of the ops console (/ops/, bot/console/static/ops_learn.js) in headless
Chromium against a real console process, its own Redis and a throwaway git copy of the
data (tests/integration/ops_console.py): an ops person signs in, sees an inbox group the
action server's writer recorded, adds its messages as examples of an FAQ key, sees the
group leave the open list and the confirmation that training is needed; then searches the
conversation review for a low-confidence turn the tracker store's writer recorded, sees it
highlighted, opens its conversation and teaches the turn to an intent. No JavaScript error
and no CSP violation on the way."""
from __future__ import annotations

import asyncio
import time
from typing import Iterator, List

import pytest

from tests.integration.ops_console import OpsConsole, git, ops_page

GROUP = ["下单能多送几个小样不", "下单能多送几个小样吗", "下单能多送几个小样吗"]
LOW_TURN = "你们家的猫粮好吃吗"


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    running = OpsConsole.start(tmp_path_factory.mktemp("learn_page"))
    try:
        yield running
    finally:
        running.stop()


def seed(console: OpsConsole) -> str:
    """An inbox group (actions/faq/inbox.py) and two turns of one web chat (common/traffic_log.py)."""
    from actions.faq import inbox
    from actions.faq.settings import load_settings
    from bot import redis_conn
    from common import traffic_log

    def event(text: str, intent: str, confidence: float) -> dict:
        return {"event": "user", "text": text, "timestamp": time.time(),
                "parse_data": {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}}

    async def main() -> List[str]:
        client = redis_conn.make_redis(console.redis.url)
        try:
            gids = []
            for n, text in enumerate(GROUP):
                entry = inbox.InboxEntry(text=text, customer=f"c-page-{n}", channel="web", outcome="suggest",
                                         guesses=[{"key": "samples", "score": 0.5, "source": "semantic"}])
                gids.append(await inbox.record(client, entry, None, load_settings()))
            await traffic_log.record(client, [
                traffic_log.turn("web:s-page", event(LOW_TURN, "nlu_fallback", 0.41), ["action_faq_fallback"]),
                traffic_log.turn("web:s-page", event("那你们卖什么", "ask_products", 0.93), ["utter_products"]),
            ])
            return gids
        finally:
            await client.close()
    gids = asyncio.run(main())
    assert len(set(gids)) == 1
    return gids[0]


def test_ops_learn_a_group_and_find_a_low_confidence_turn(console: OpsConsole) -> None:
    from playwright.sync_api import expect

    gid = seed(console)
    before = git(console.repo, "rev-parse", "HEAD").strip()
    with ops_page(console) as (page, problems):
        page.locator(".tab[data-view=learn]").click()
        view = page.locator("#view-learn")
        expect(view).to_be_visible()

        notice = view.locator(".learn-notice")
        expect(notice).to_be_hidden()
        # the inbox group, with its count and the suggested FAQ
        group = view.locator(f".learn-group[data-gid='{gid}']")
        expect(group.locator(".learn-label")).to_have_text(GROUP[0])
        expect(group.locator(".learn-count")).to_have_text("×3")
        expect(group.locator(".learn-guess")).to_contain_text("有小样或试用装吗？")

        # 加为例句: both distinct messages ticked, the FAQ chosen in the picker
        group.locator("button.learn-add").click()
        boxes = group.locator("input.learn-message")
        expect(boxes).to_have_count(2)
        assert all(boxes.nth(i).is_checked() for i in range(2))
        group.locator("input.learn-intent-filter").fill("小样")
        group.locator("select.learn-intent").select_option("faq/samples")
        group.locator("button.learn-submit").click()

        expect(notice).to_contain_text("已把 2 条消息加为「有小样或试用装吗？（faq/samples）」的例句")
        expect(notice).to_contain_text("训练与上线")
        expect(view.locator(f".learn-group[data-gid='{gid}']")).to_have_count(0)
        expect(view.locator(".learn-total")).to_have_text("未处理 0 组")
        view.locator("button.learn-status[data-status=handled]").click()
        handled = view.locator(f".learn-group[data-gid='{gid}'] .learn-handled")
        expect(handled).to_contain_text(console.accounts["ops"] + " 加为例句")
        expect(handled).to_contain_text("faq/samples")
        view.locator("button.learn-status[data-status=open]").click()
        expect(view.locator(".learn-total")).to_have_text("未处理 0 组")

        # the conversation review: only low-confidence turns, searched by text
        view.locator("input.learn-q").fill("猫粮")
        view.locator("input.learn-low").check()
        view.locator("button.learn-search-go").click()
        row = view.locator("tr.learn-turn", has_text=LOW_TURN)
        expect(row).to_have_count(1)
        expect(row).to_have_class("learn-turn low fallback")
        expect(row.locator(".learn-flag")).to_have_text("兜底")
        expect(view.locator("tr.learn-turn")).to_have_count(1)

        # click it: the whole conversation, the low turn highlighted
        row.locator("button.learn-turn-text").click()
        turns = view.locator(".learn-conversation li.learn-conv-turn")
        expect(turns).to_have_count(2)
        expect(turns.nth(0)).to_have_class("learn-conv-turn low current")
        expect(turns.nth(1)).to_contain_text("那你们卖什么")

        # tick the turn and teach it as an example of out_of_scope
        row.locator("input.learn-pick").check()
        selection = view.locator(".learn-selection")
        expect(selection.locator(".learn-sel-count")).to_have_text("已选 1 条")
        selection.locator("select.learn-intent").select_option("out_of_scope")
        selection.locator("button.learn-submit").click()
        expect(notice).to_contain_text("已把 1 条消息加为「out_of_scope」的例句")
        expect(selection).to_be_hidden()

        # the confirmation links to 训练与上线
        notice.locator("button.learn-train").click()
        expect(page.locator("#view-models")).to_be_visible()
        expect(view).to_be_hidden()

    assert problems == []
    # what the page did: two commits by the account (the group's messages, the review's turn)
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "2"
    assert set(git(console.repo, "log", "-2", "--format=%ae").split()) == {f"{console.accounts['ops']}@console.local"}
    faq = (console.repo / "data/nlu/faq.yml").read_text(encoding="utf-8")
    assert "- 下单能多送几个小样不\n" in faq and "- 下单能多送几个小样吗\n" in faq
    assert f"- {LOW_TURN}\n" in (console.repo / "data/nlu/out_of_scope.yml").read_text(encoding="utf-8")
    from common import inbox_store
    from bot import redis_conn

    async def handled():
        client = redis_conn.make_redis(console.redis.url)
        try:
            return await inbox_store.get_group(client, gid, samples=0)
        finally:
            await client.close()
    group = asyncio.run(handled())
    assert (group["status"], group["handled_by"], group["how"]) == ("handled", console.accounts["ops"], "examples")
