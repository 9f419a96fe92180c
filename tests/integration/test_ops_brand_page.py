"""The 品牌与人设 tab of the ops console in headless Chromium, against a real console
(tests/integration/ops_console.py): ops sign in, edit a brand fact and see the bot's
reply change in the preview before anything is saved, save it (one git commit by the
account), and find it still there after a reload; a fact still in use is not deleted
and the page says where it is used; a persona's greeting is previewed and saved the
same way. The page runs under its CSP (no inline code): any violation fails the test."""
from __future__ import annotations

import re
from typing import Iterator, List

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integration.ops_console import PASSWORD, OpsConsole, git

FACTS = "data/brand/facts.yml"


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    started = OpsConsole.start(tmp_path_factory.mktemp("brand_page"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def page(console: OpsConsole):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page()
        tab.set_default_timeout(15_000)
        problems: List[str] = []
        tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        tab.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        tab.on("dialog", lambda dialog: dialog.accept())  # 删除？ — yes
        tab.problems = problems
        yield tab
        browser.close()


def open_brand_tab(page, console: OpsConsole) -> None:
    page.click(".tab[data-view=brand]")
    page.locator("#brand-facts tr[data-key=free_shipping_threshold]").wait_for()


def sign_in(page, console: OpsConsole) -> None:
    page.goto(console.url + "/ops/")
    page.fill("#username", console.accounts["ops"])
    page.fill("#password", PASSWORD)
    page.click("#login-form button")
    page.locator("#console").wait_for()


def test_ops_edit_a_fact_see_the_preview_save_it_and_find_it_after_a_reload(page, console):
    from playwright.sync_api import expect

    sign_in(page, console)
    open_brand_tab(page, console)
    row = page.locator("#brand-facts tr[data-key=free_shipping_threshold]")
    value = row.locator("input.brand-fact-value")
    expect(value).to_have_value("99")
    expect(page.locator("#brand-preview-status")).to_contain_text("没有还没保存的修改")

    value.fill("119")
    first = page.locator("#brand-preview-list li").first
    expect(first).to_contain_text("满119元")
    expect(first.locator(".brand-preview-before")).to_contain_text("满99元")
    expect(page.locator("#brand-preview-status")).to_contain_text("还没保存的修改的效果")
    assert "free_shipping_threshold: 99\n" in (console.repo / FACTS).read_text(encoding="utf-8")  # not saved yet

    row.locator("button.brand-fact-save").click()
    expect(page.locator("#message")).to_contain_text("已保存「free_shipping_threshold」")
    expect(page.locator("#brand-preview-status")).to_contain_text("没有还没保存的修改")
    assert "free_shipping_threshold: 119\n" in (console.repo / FACTS).read_text(encoding="utf-8")
    author, subject = git(console.repo, "log", "-1", "--format=%ae%n%s").splitlines()
    assert author == f"{console.accounts['ops']}@console.local" and "free_shipping_threshold" in subject

    page.reload()
    page.locator("#console").wait_for()
    open_brand_tab(page, console)
    expect(page.locator("#brand-facts tr[data-key=free_shipping_threshold] input.brand-fact-value")).to_have_value("119")
    assert page.problems == []


def test_a_fact_in_use_is_not_deleted_and_the_page_says_where(page, console):
    from playwright.sync_api import expect

    before = git(console.repo, "rev-parse", "HEAD")
    row = page.locator("#brand-facts tr[data-key=standard_postage]")
    row.locator("button.brand-fact-delete").click()
    message = row.locator(".brand-row-msg")
    expect(message).to_contain_text("不能删除「standard_postage」")
    expect(message.locator("li")).to_contain_text(["data/responses/faq.yml：utter_faq/shipping_fee"])
    expect(row).to_be_visible()
    assert git(console.repo, "rev-parse", "HEAD") == before
    assert page.problems == []


def test_a_persona_greeting_is_previewed_then_saved(page, console):
    from playwright.sync_api import expect

    greeting = page.locator("#brand-persona-form [data-response=utter_greet] textarea").first
    expect(greeting).to_have_value(re.compile("^嗨，我是七七"))
    greeting.fill("嗨，我是{persona}，今天也在{brand}等你")
    preview = page.locator("#brand-preview-list li.changed").first
    expect(preview).to_contain_text("嗨，我是七七，今天也在青禾等你")
    expect(page.locator("#brand-persona-save")).to_be_enabled()

    page.click("#brand-persona-save")
    expect(page.locator("#message")).to_contain_text("已保存人设「七七」")
    assert "- text: \"嗨，我是{persona}，今天也在{brand}等你\"" in (console.repo / "personas/qiqi.yml").read_text(encoding="utf-8")

    page.reload()
    page.locator("#console").wait_for()
    open_brand_tab(page, console)
    expect(page.locator("#brand-persona-form [data-response=utter_greet] textarea").first).to_have_value(
        "嗨，我是{persona}，今天也在{brand}等你")
    assert page.problems == []
