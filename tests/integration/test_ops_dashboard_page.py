"""The 数据看板 tab of the ops console in headless Chromium against a real console process
(tests/integration/ops_console.py): ECharts loads from our own origin under the page's CSP
and draws the recorded traffic; the tiles say what was recorded."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integration.ops_console import PASSWORD, OpsConsole


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    running = OpsConsole.start(tmp_path_factory.mktemp("dashboard_page"))
    try:
        yield running
    finally:
        running.stop()


def record_turns(console: OpsConsole) -> None:
    """Seven customer messages as the tracker store records them (common/traffic_log.py)."""
    from bot import redis_conn
    from common import traffic_log

    def turn(sender: str, text: str, intent: str, confidence: float) -> dict:
        parse = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}
        return traffic_log.turn(sender, {"event": "user", "text": text, "timestamp": time.time(), "parse_data": parse},
                                ["utter_greet"])

    async def main() -> None:
        client = redis_conn.make_redis(console.redis.url)
        try:
            await traffic_log.record(client, [turn(f"wechat_mp:o-{n}", "你好", "greet", 0.98) for n in range(5)] +
                                     [turn("web:s-1", "你们卖猫粮吗", "nlu_fallback", 0.3),
                                      turn("wecom_kf:wm-1", "包邮吗", "faq", 0.9)])
        finally:
            await client.close()
    asyncio.run(main())


def test_the_dashboard_draws_the_recorded_traffic_with_echarts(console: OpsConsole) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `WITH_BROWSER=1 bash scripts/setup.sh`")
    record_turns(console)
    problems: List[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda msg: problems.append(msg.text)
                    if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
            page.goto(console.url + "/ops/")
            page.locator("#username").fill(console.accounts["ops"])
            page.locator("#password").fill(PASSWORD)
            page.locator("#login-form button").click()
            page.locator(".tab[data-view=dashboard]").click()
            view = page.locator("#view-dashboard")
            expect(view.locator(".ops-dash-error")).to_have_count(0)
            expect(view.locator(".ops-dash-tiles")).to_contain_text("7")  # seven messages today
            charts = view.locator(".ops-dash-chart canvas")
            expect(charts.first).to_be_visible()
            assert charts.count() >= 3  # drawn by ECharts, not an empty frame
            assert page.evaluate("() => typeof window.echarts === 'object'")
        finally:
            browser.close()
    assert problems == []
