"""The 数据看板 tab of the ops console in headless Chromium against a real console process
(tests/integration/ops_console.py): ECharts loads from our own origin under the page's CSP
and draws the recorded traffic; the tiles say what was recorded."""
from __future__ import annotations

import asyncio
import time
from typing import Iterator, List

import pytest

from tests.integration.ops_console import OpsConsole, ops_page


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
    from playwright.sync_api import expect

    record_turns(console)
    with ops_page(console) as (page, problems):
        page.locator(".tab[data-view=dashboard]").click()
        view = page.locator("#view-dashboard")
        expect(view.locator(".ops-dash-tiles")).to_contain_text("7")  # seven messages today
        expect(view.locator(".ops-dash-error")).to_have_count(0)
        charts = view.locator(".ops-dash-chart canvas")
        expect(charts.first).to_be_visible()
        assert charts.count() >= 3  # drawn by ECharts, not an empty frame
        assert page.evaluate("() => typeof window.echarts === 'object'")
    assert problems == []
