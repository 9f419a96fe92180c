"""The ops console's brand facts and personas API (bot/console/brand_api.py), served by
a real `python -m bot.console` with its own Redis and its own git copy of the data
(tests/integration/ops_console.py): what ops see and change, every save one git commit
by the account that changes only the edited lines, refusals (in use, invalid, unknown),
attacks (no session, a guide, no CSRF token, malformed JSON), and edits that reach the
web chat's persona and the bot's NLG while everything keeps running (no restart, no
retraining)."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests
import yaml

from tests.integration.ops_console import OpsConsole, git

FACTS = "data/brand/facts.yml"
BRAND = "/api/ops/brand"


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    started = OpsConsole.start(tmp_path_factory.mktemp("brand_api"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ops(console: OpsConsole) -> requests.Session:
    return console.login("ops")


def head(console: OpsConsole) -> str:
    return git(console.repo, "rev-parse", "HEAD").strip()


def read(console: OpsConsole, rel: str) -> str:
    return (console.repo / rel).read_text(encoding="utf-8")


def commit_of(console: OpsConsole, sha: str) -> Dict[str, Any]:
    """Author, files and changed lines of one commit in the console's repo."""
    author = git(console.repo, "show", "-s", "--format=%an%n%ae%n%s", sha).splitlines()
    files = git(console.repo, "show", "--format=", "--name-only", sha).split()
    diff = git(console.repo, "show", "--format=", "-U0", sha).splitlines()
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    return {"name": author[0], "email": author[1], "subject": author[2], "files": files,
            "removed": removed, "added": added}


def facts_table(ops: requests.Session, console: OpsConsole) -> Dict[str, Dict[str, Any]]:
    answer = ops.get(f"{console.url}{BRAND}/facts", timeout=10)
    assert answer.status_code == 200, answer.text
    return {row["key"]: row for row in answer.json()["facts"]}


# --------------------------------------------------------------------------- facts

def test_facts_are_listed_in_file_order_with_where_they_are_used(ops, console):
    answer = ops.get(f"{console.url}{BRAND}/facts", timeout=10)
    assert answer.status_code == 200
    rows = answer.json()["facts"]
    on_disk = yaml.safe_load(read(console, FACTS))
    assert [r["key"] for r in rows] == list(on_disk)
    assert {r["key"]: r["value"] for r in rows} == on_disk
    by_key = {r["key"]: r for r in rows}
    assert {"file": "data/responses/faq.yml", "where": "utter_faq/shipping_fee"} in by_key["free_shipping_threshold"]["usages"]
    assert by_key["free_shipping_threshold"]["section"] == "Shipping"
    assert by_key["exchange_window_days"]["comment"].startswith("quality-problem exchange")
    assert by_key["mini_program"]["usages"] == []  # nothing says it: it may be deleted


def test_changing_a_fact_is_one_commit_by_the_account_touching_only_its_line(ops, console):
    before = head(console)
    answer = ops.put(f"{console.url}{BRAND}/facts/ship_within_hours", json={"value": "72"}, timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["fact"]["value"] == 72 and body["changed"] is True  # a number stays a number
    assert body["live"] is True  # the bot reads the files the console edits
    assert body["commit"] == head(console) != before
    assert git(console.repo, "rev-parse", f"{body['commit']}^").strip() == before
    commit = commit_of(console, body["commit"])
    assert commit["email"] == f"{console.accounts['ops']}@console.local"
    assert commit["name"] == "ops 测试"
    assert "ship_within_hours" in commit["subject"]
    assert commit["files"] == [FACTS]
    assert (commit["removed"], commit["added"]) == (["ship_within_hours: 48"], ["ship_within_hours: 72"])
    assert git(console.repo, "status", "--porcelain").strip() == ""  # the file on disk is what was committed


def test_the_same_value_again_makes_no_commit(ops, console):
    ops.put(f"{console.url}{BRAND}/facts/standard_postage", json={"value": "9"}, timeout=10)
    before = head(console)
    answer = ops.put(f"{console.url}{BRAND}/facts/standard_postage", json={"value": "9"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["changed"] is False and answer.json()["commit"] is None
    assert head(console) == before


def test_an_admin_may_edit_too_and_is_the_author(console):
    admin = console.login("admin")
    answer = admin.put(f"{console.url}{BRAND}/facts/cs_hours", json={"value": "每天 9:00-23:00"}, timeout=10)
    assert answer.status_code == 200, answer.text
    commit = commit_of(console, answer.json()["commit"])
    assert commit["email"] == f"{console.accounts['admin']}@console.local"
    # The line keeps its quotes: only the value changed.
    assert (commit["removed"], commit["added"]) == (['cs_hours: "每天 9:00-22:00"'], ['cs_hours: "每天 9:00-23:00"'])


def test_add_rename_and_delete_an_unused_fact(ops, console):
    original = read(console, FACTS)
    added = ops.post(f"{console.url}{BRAND}/facts",
                     json={"key": "gift_wrap_note", "value": "支持免费礼盒包装", "after": "presale_ship_note"}, timeout=10)
    assert added.status_code == 201, added.text
    assert added.json()["fact"] == {"key": "gift_wrap_note", "value": "支持免费礼盒包装", "section": "Shipping", "usages": []}
    commit = commit_of(console, added.json()["commit"])
    assert (commit["removed"], commit["added"]) == ([], ["gift_wrap_note: 支持免费礼盒包装"])
    lines = read(console, FACTS).splitlines()
    assert lines[lines.index("gift_wrap_note: 支持免费礼盒包装") - 1].startswith("presale_ship_note:")
    assert list(facts_table(ops, console)).index("gift_wrap_note") == list(facts_table(ops, console)).index("presale_ship_note") + 1

    renamed = ops.post(f"{console.url}{BRAND}/facts/gift_wrap_note/rename", json={"to": "gift_wrap_rule"}, timeout=10)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["fact"]["key"] == "gift_wrap_rule"
    commit = commit_of(console, renamed.json()["commit"])
    assert (commit["removed"], commit["added"]) == (["gift_wrap_note: 支持免费礼盒包装"], ["gift_wrap_rule: 支持免费礼盒包装"])

    deleted = ops.delete(f"{console.url}{BRAND}/facts/gift_wrap_rule", timeout=10)
    assert deleted.status_code == 200, deleted.text
    commit = commit_of(console, deleted.json()["commit"])
    assert (commit["removed"], commit["added"]) == (["gift_wrap_rule: 支持免费礼盒包装"], [])
    assert read(console, FACTS) == original
    assert "gift_wrap_rule" not in facts_table(ops, console)


def test_a_fact_in_use_cannot_be_deleted_or_renamed(ops, console):
    before, text = head(console), read(console, FACTS)
    for answer in (ops.delete(f"{console.url}{BRAND}/facts/free_shipping_threshold", timeout=10),
                   ops.post(f"{console.url}{BRAND}/facts/free_shipping_threshold/rename",
                            json={"to": "free_shipping_from"}, timeout=10)):
        assert answer.status_code == 409, answer.text
        body = answer.json()
        assert "free_shipping_threshold" in body["error"] and "在用" in body["error"]
        assert {"file": "data/responses/faq.yml", "where": "utter_faq/shipping_fee"} in body["usages"]
    assert (head(console), read(console, FACTS)) == (before, text)
    assert "free_shipping_threshold" in facts_table(ops, console)


def test_a_save_that_cannot_be_committed_is_not_saved(ops, console):
    """A developer's merge in progress: git refuses the commit, so the file is put back."""
    before, text = head(console), read(console, FACTS)
    marker = console.repo / ".git" / "MERGE_HEAD"
    marker.write_text(before + "\n", encoding="utf-8")
    try:
        answer = ops.put(f"{console.url}{BRAND}/facts/tracking_update_hours", json={"value": "12"}, timeout=10)
    finally:
        marker.unlink()
    assert answer.status_code == 409, answer.text
    assert "没有保存" in answer.json()["error"] and "合并" in answer.json()["error"]
    assert (head(console), read(console, FACTS)) == (before, text)
    assert facts_table(ops, console)["tracking_update_hours"]["value"] == 24


@pytest.mark.parametrize("method, path, body", [
    ("PUT", "/facts/no_such_fact", {"value": "1"}),
    ("DELETE", "/facts/no_such_fact", None),
    ("POST", "/facts/no_such_fact/rename", {"to": "other_name"}),
    ("GET", "/personas/nobody", None),
    ("PUT", "/personas/nobody", {"persona": {"name": "谁"}}),
    ("POST", "/preview", {"persona": "nobody"}),
])
def test_unknown_facts_and_personas_are_404(ops, console, method, path, body):
    before = head(console)
    answer = ops.request(method, f"{console.url}{BRAND}{path}", json=body, timeout=10)
    assert answer.status_code == 404, answer.text
    assert "没有" in answer.json()["error"]
    assert head(console) == before


@pytest.mark.parametrize("method, path, body, reason", [
    ("PUT", "/facts/store_hours", {"value": "  "}, "不能为空"),
    ("PUT", "/facts/store_hours", {"value": "{fact:brand_name}"}, "花括号"),
    ("PUT", "/facts/store_hours", {"value": ["10:00", "22:00"]}, "不能是列表"),
    ("PUT", "/facts/store_hours", {}, "缺少 value"),
    ("POST", "/facts", {"key": "Store-Phone", "value": "400-000"}, "键名"),
    ("POST", "/facts", {"key": "brand_name", "value": "别的"}, "已经存在"),
    ("POST", "/facts", {"key": "store_phone", "value": "400-000", "after": "no_such_fact"}, "不知道新的一条放在哪里"),
    ("POST", "/facts/mini_program/rename", {"to": "brand_name"}, "已经存在"),
])
def test_invalid_fact_edits_are_refused_in_chinese_and_write_nothing(ops, console, method, path, body, reason):
    before, text = head(console), read(console, FACTS)
    answer = ops.request(method, f"{console.url}{BRAND}{path}", json=body, timeout=10)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]
    assert (head(console), read(console, FACTS)) == (before, text)


# --------------------------------------------------------------------------- personas

def test_personas_are_listed_with_their_fields(ops, console):
    answer = ops.get(f"{console.url}{BRAND}/personas", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert [(p["id"], p["name"]) for p in body["personas"]] == [("qiqi", "七七"), ("xiaowanzi", "小完子")]
    assert body["active"] == "qiqi"
    assert body["fields"]["name"] == "名字"
    qiqi = ops.get(f"{console.url}{BRAND}/personas/qiqi", timeout=10).json()
    assert qiqi["persona"] == yaml.safe_load(read(console, "personas/qiqi.yml"))
    assert qiqi["path"] == "personas/qiqi.yml" and qiqi["active"] is True


def test_saving_a_persona_changes_only_the_edited_lines_in_one_commit(ops, console):
    data = ops.get(f"{console.url}{BRAND}/personas/xiaowanzi", timeout=10).json()["persona"]
    data["tone"]["exclaim"] = "～"
    data["signature_phrases"][0] = "今天也要美美哒✨"
    answer = ops.put(f"{console.url}{BRAND}/personas/xiaowanzi", json={"persona": data}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["persona"] == data
    commit = commit_of(console, answer.json()["commit"])
    assert commit["files"] == ["personas/xiaowanzi.yml"]
    assert commit["email"] == f"{console.accounts['ops']}@console.local"
    assert sorted(commit["removed"]) == sorted(['  exclaim: "！"', "  - 美美哒每一天✨"])
    assert sorted(commit["added"]) == sorted(['  exclaim: "～"', "  - 今天也要美美哒✨"])
    assert read(console, "personas/xiaowanzi.yml").startswith("# 小完子: a lively beauty advisor")  # comments kept


def test_an_invalid_persona_is_refused_with_every_problem_and_nothing_written(ops, console):
    before, text = head(console), read(console, "personas/xiaowanzi.yml")
    data = ops.get(f"{console.url}{BRAND}/personas/xiaowanzi", timeout=10).json()["persona"]
    data["name"] = ""
    del data["system_texts"]["throttled"]
    data["tone"]["emoji"]["Big"] = "🙂"
    data["self_intro"] = "我是{persona}，{fact:no_such_fact}"
    answer = ops.put(f"{console.url}{BRAND}/personas/xiaowanzi", json={"persona": data}, timeout=10)
    assert answer.status_code == 400, answer.text
    problems = answer.json()["problems"]
    assert len(problems) == 4, problems
    for expected in ("名字 name：不能为空", "系统话术缺少：throttled", "表情名「Big」无效", "{fact:no_such_fact}"):
        assert any(expected in p for p in problems), (expected, problems)
    assert (head(console), read(console, "personas/xiaowanzi.yml")) == (before, text)


def test_a_persona_body_must_hold_the_profile(ops, console):
    answer = ops.put(f"{console.url}{BRAND}/personas/qiqi", json={"name": "七七"}, timeout=10)
    assert answer.status_code == 400 and "persona" in answer.json()["error"]


# --------------------------------------------------------------------------- preview

def test_the_preview_renders_unsaved_values_with_the_bot_nlg_and_writes_nothing(ops, console):
    before, facts_text = head(console), read(console, FACTS)
    answer = ops.post(f"{console.url}{BRAND}/preview",
                      json={"persona": "qiqi", "facts": {"free_shipping_threshold": "129"}}, timeout=10)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    first = items[0]
    assert first["response"] == "utter_faq/shipping_fee" and first["changed"] is True
    assert "满129元包邮" in first["text"] and "满99元包邮" in first["before"]
    assert "{fact:" not in first["text"] and "{brand}" not in first["text"]  # rendered, as the bot says it
    assert all(not item["changed"] for item in items[1:])

    qiqi = ops.get(f"{console.url}{BRAND}/personas/qiqi", timeout=10).json()["persona"]
    qiqi["responses"]["utter_greet"][0]["text"] = "嗨，{persona}在呢{emoji_happy}"
    qiqi["name"] = "七七子"
    drafted = ops.post(f"{console.url}{BRAND}/preview", json={"persona": "qiqi", "persona_data": qiqi}, timeout=10)
    assert drafted.status_code == 200, drafted.text
    texts = {item["response"]: item for item in drafted.json()["items"]}
    assert texts["utter_greet"]["text"] == "嗨，七七子在呢🙂" and texts["utter_greet"]["changed"]
    assert (head(console), read(console, FACTS)) == (before, facts_text)


def test_a_preview_of_an_invalid_draft_lists_the_problems(ops, console):
    qiqi = ops.get(f"{console.url}{BRAND}/personas/qiqi", timeout=10).json()["persona"]
    qiqi["name"] = " "
    answer = ops.post(f"{console.url}{BRAND}/preview", json={"persona": "qiqi", "persona_data": qiqi}, timeout=10)
    assert answer.status_code == 400
    assert any("名字" in p for p in answer.json()["problems"])
    bad_fact = ops.post(f"{console.url}{BRAND}/preview", json={"persona": "qiqi", "facts": {"store_hours": ""}}, timeout=10)
    assert bad_fact.status_code == 400 and "不能为空" in bad_fact.json()["error"]


# --------------------------------------------------------------------------- live, no retraining

def _bot_nlg(repo: Path) -> Tuple[Any, Any]:
    """The NLG Rasa runs (endpoints.yml `nlg`), reading the console's data files live,
    with the FAQ responses of the trained data; and a tracker to render for."""
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.nlg import PersonaNaturalLanguageGenerator

    nlg = PersonaNaturalLanguageGenerator(persona_id="qiqi", persona_dir=repo / "personas",
                                          facts_file=repo / FACTS)
    nlg.responses = yaml.safe_load((repo / "data/responses/faq.yml").read_text(encoding="utf-8"))["responses"]
    return nlg, DialogueStateTracker("brand-api-test", [])


def _said(nlg: Any, tracker: Any, response: str) -> str:
    return asyncio.run(nlg.generate(response, tracker, "rest"))["text"]


def _eventually(check, timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_a_saved_fact_is_live_without_restart_or_retraining(ops, console):
    nlg, tracker = _bot_nlg(console.repo)
    assert "满99元" in _said(nlg, tracker, "utter_faq/shipping_fee")
    page_before = requests.get(console.url + "/", timeout=10).text
    assert "<title>七七 · 青禾</title>" in page_before

    assert ops.put(f"{console.url}{BRAND}/facts/free_shipping_threshold", json={"value": "109"}, timeout=10).ok
    assert ops.put(f"{console.url}{BRAND}/facts/brand_name", json={"value": "青禾Plus"}, timeout=10).ok

    # The console's own NLG render of the saved data (a preview without drafts).
    saved = ops.post(f"{console.url}{BRAND}/preview", json={"persona": "qiqi", "sample": 30}, timeout=10).json()["items"]
    assert any("青禾Plus" in item["text"] for item in saved)
    # The web chat, same console process: profile and page follow at once.
    profile = requests.get(console.url + "/api/persona", timeout=10).json()
    assert profile["brand"] == "青禾Plus" and profile["self_intro"].startswith("我是七七，青禾Plus的小助手")
    assert "<title>七七 · 青禾Plus</title>" in requests.get(console.url + "/", timeout=10).text
    # The bot's NLG, built before the save and never rebuilt: within its re-check interval.
    assert _eventually(lambda: "满109元" in _said(nlg, tracker, "utter_faq/shipping_fee"))
    assert all("满109元" in _said(nlg, tracker, "utter_faq/shipping_fee") for _ in range(6))  # every variant
    assert nlg.render_plain("{self_intro}").startswith("我是七七，青禾Plus的小助手")
    assert requests.get(console.url + "/healthz", timeout=10).ok  # the same process all along


def test_a_saved_persona_is_live_on_the_web_chat_page(ops, console):
    data = ops.get(f"{console.url}{BRAND}/personas/qiqi", timeout=10).json()["persona"]
    data["name"] = "七七酱"
    data["avatar"] = "/static/avatars/user.svg"
    assert ops.put(f"{console.url}{BRAND}/personas/qiqi", json={"persona": data}, timeout=10).ok
    profile = requests.get(console.url + "/api/persona", timeout=10).json()
    assert (profile["name"], profile["avatar"]) == ("七七酱", "/static/avatars/user.svg")
    page = requests.get(console.url + "/", timeout=10).text
    assert '<h1 id="title" class="topbar-title">七七酱</h1>' in page and 'href="/static/avatars/user.svg"' in page


# --------------------------------------------------------------------------- attacks

WRITES: List[Tuple[str, str, Any]] = [
    ("PUT", "/facts/mini_program", {"value": "被改了"}),
    ("POST", "/facts", {"key": "attack_fact", "value": "x"}),
    ("DELETE", "/facts/mini_program", None),
    ("POST", "/facts/mini_program/rename", {"to": "attack_name"}),
    ("PUT", "/personas/xiaowanzi", {"persona": {"name": "攻击"}}),
    ("POST", "/preview", {"persona": "qiqi", "facts": {"brand_name": "x"}}),
]
READS = ["/facts", "/personas", "/personas/qiqi"]


@pytest.mark.parametrize("method, path, body", WRITES)
def test_writes_refuse_no_session_a_guide_and_a_missing_csrf_token(console, method, path, body):
    before = head(console)
    files = (read(console, FACTS), read(console, "personas/xiaowanzi.yml"))
    url = f"{console.url}{BRAND}{path}"
    assert requests.request(method, url, json=body, timeout=10).status_code == 401
    assert console.login("guide").request(method, url, json=body, timeout=10).status_code == 403
    refused = console.login("ops", csrf=False).request(method, url, json=body, timeout=10)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    assert head(console) == before
    assert (read(console, FACTS), read(console, "personas/xiaowanzi.yml")) == files


@pytest.mark.parametrize("path", READS)
def test_reads_refuse_no_session_and_a_guide(console, path):
    assert requests.get(f"{console.url}{BRAND}{path}", timeout=10).status_code == 401
    assert console.login("guide").get(f"{console.url}{BRAND}{path}", timeout=10).status_code == 403


@pytest.mark.parametrize("method, path", [(m, p) for m, p, body in WRITES if body is not None])
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]"])
def test_malformed_json_is_400(ops, console, method, path, raw):
    before = head(console)
    answer = ops.request(method, f"{console.url}{BRAND}{path}", data=raw,
                         headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 400, answer.text
    assert "JSON" in answer.json()["error"]
    assert head(console) == before
