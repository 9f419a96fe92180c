"""The 意图与问答 tab of the ops page (bot/console/static/ops_nlu.js) in headless
Chromium against a real console (ops_console.py; no Rasa needed): an ops user
signs in through the login form, marks an entity by selecting text, sees the
live conflict warning and forces a save, creates a FAQ and previews its answer
in each persona's voice. Every save must land in the console's repo as a commit."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml

from tests.integration.ops_console import PASSWORD, OpsConsole, git

# As tests/e2e/conftest.py launches it (a conftest is not imported from here).
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    started = OpsConsole.start(tmp_path_factory.mktemp("nlu_page"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def page(console: OpsConsole):
    """One signed-in page on the 意图与问答 tab for the module; script errors collected."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `WITH_BROWSER=1 bash scripts/setup.sh`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        errors: List[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
        tab.errors = errors
        tab.goto(console.url + "/ops/")
        tab.fill("#username", console.accounts["ops"])
        tab.fill("#password", PASSWORD)
        tab.click("#login-form button")
        tab.click(".tab[data-view=nlu]")
        tab.wait_for_selector(".nlu-intent[data-intent='faq/shipping_fee']")
        yield tab
        browser.close()


def last_commit(console: OpsConsole) -> List[str]:
    return git(console.repo, "log", "-1", "--format=%an%n%s").splitlines()


def added_lines(console: OpsConsole) -> List[str]:
    return [line[1:].strip() for line in git(console.repo, "diff", "-U0", "HEAD~1", "HEAD").splitlines()
            if line.startswith("+") and not line.startswith("+++")]


def test_faq_keys_are_listed_with_title_and_count(page):
    button = page.locator(".nlu-intent[data-intent='faq/shipping_fee']")
    assert "运费多少？满多少包邮？" in button.inner_text()
    assert int(button.locator(".nlu-count").inner_text()) > 5


def test_add_an_example_with_an_entity_marked_by_selecting_text(console, page):
    page.click(".nlu-intent[data-intent='inform_skin_type']")
    page.wait_for_selector("#nlu-detail h2:has-text('inform_skin_type')")
    text = page.locator("#nlu-text")
    text.fill("我是超级干皮")
    # select 干皮 as a user would: caret to the end, shift+left twice
    text.press("End")
    text.press("Shift+ArrowLeft")
    text.press("Shift+ArrowLeft")
    page.select_option("#nlu-entity", "skin_type")
    page.fill("#nlu-value", "dry")
    page.click("#nlu-mark")
    assert page.locator("#nlu-spans .nlu-chip").inner_text().startswith("「干皮」skin_type = dry")
    page.wait_for_selector("#nlu-tokens .nlu-token:text-is('干皮')")  # the segmentation preview
    page.click("#nlu-add")
    page.wait_for_selector("#message:has-text('已添加例句')")
    row = page.locator("#nlu-examples tr", has=page.locator("mark.nlu-entity:text-is('干皮')")).filter(has_text="我是超级")
    row.wait_for()
    assert "skin_type=dry" in row.inner_text()
    assert last_commit(console) == ["ops 测试", f"console: 新增例句 inform_skin_type：我是超级干皮（{console.accounts['ops']}，运营后台）"]
    assert added_lines(console) == ['- 我是超级[干皮]{"entity": "skin_type", "value": "dry"}']


def test_a_phrasing_of_another_intent_warns_while_typing_and_saves_only_when_forced(console, page):
    page.click(".nlu-intent[data-intent='faq/shipping_fee']")
    page.wait_for_selector("#nlu-detail h2:has-text('faq/shipping_fee')")
    before = git(console.repo, "rev-parse", "HEAD")
    page.locator("#nlu-text").press_sequentially("多久发货呀", delay=20)
    warning = page.locator("#nlu-conflicts")
    warning.wait_for(state="visible")
    assert "faq/shipping_time" in warning.inner_text() and "下单后多久发货？" in warning.inner_text()
    page.click("#nlu-add")
    refusal = page.locator("#nlu-refusal")
    refusal.locator(".nlu-force").wait_for()
    assert "很像" in refusal.inner_text()
    assert git(console.repo, "rev-parse", "HEAD") == before  # refused: nothing saved yet
    refusal.locator(".nlu-force").click()
    page.wait_for_selector("#message:has-text('已添加例句「多久发货呀」')")
    page.wait_for_selector("#nlu-examples .nlu-example:text-is('多久发货呀')")
    assert added_lines(console) == ["- 多久发货呀"]


def test_create_a_faq_and_preview_its_answer_in_each_personas_voice(console, page):
    facts = yaml.safe_load((console.repo / "data/brand/facts.yml").read_text(encoding="utf-8"))
    threshold = facts["free_shipping_threshold"]
    page.click("#nlu-new-faq")
    page.fill("#nlu-faq-key", "gift_box")
    page.fill("#nlu-faq-title", "能帮忙包装成礼物吗？")
    page.fill("#nlu-faq-examples", "能帮忙包成礼物吗\n送人的可以包装吗")
    page.locator(".nlu-faq-form textarea.nlu-answer").fill("{persona}帮{you}包好哦，满{fact:free_shipping_threshold}元还包邮")
    page.wait_for_selector(f".nlu-preview-line[data-persona=qiqi]:has-text('七七帮你包好哦，满{threshold}元还包邮')")
    page.wait_for_selector(".nlu-preview-line[data-persona=xiaowanzi]:has-text('小完子帮宝子包好哦')")
    page.click("#nlu-faq-save")
    page.wait_for_selector("#message:has-text('已新建问答 faq/gift_box')")
    page.wait_for_selector(".nlu-intent[data-intent='faq/gift_box']:has-text('能帮忙包装成礼物吗？')")
    page.wait_for_selector("#nlu-examples .nlu-example:text-is('送人的可以包装吗')")
    # the new key's answers editor shows the saved answer with its preview
    page.wait_for_selector(".nlu-answers-section .nlu-preview-line[data-persona=qiqi]:has-text('七七帮你包好哦')")
    assert last_commit(console)[0] == "ops 测试"
    changed = git(console.repo, "diff", "--name-only", "HEAD~1", "HEAD").split()
    assert sorted(changed) == ["actions/faq/titles.yml", "data/nlu/faq.yml", "data/responses/faq.yml"]


def test_an_unknown_placeholder_is_shown_as_an_error_in_the_preview(page):
    page.click(".nlu-intent[data-intent='faq/shipping_fee']")
    page.wait_for_selector("#nlu-detail h2:has-text('faq/shipping_fee')")  # not the previous key's editor
    answer = page.locator(".nlu-answers-section textarea.nlu-answer").first
    answer.fill("满{fact:no_such_fact}包邮")
    page.wait_for_selector(".nlu-answers-section .nlu-preview .error:has-text('no_such_fact')")


def test_no_script_errors_or_csp_violations(page):
    assert page.errors == []
