"""The 待学习 API (bot/console/learn_api.py) on a real console process (`python -m
bot.console`), its own redis-server and a throwaway git copy of the data
(tests/integration/ops_console.py). Inbox groups are recorded by the action server's
writer (actions/faq/inbox.py) and read back through HTTP; examples land in the copy as
one commit by the ops account; a group becomes handled with who and how; a retried or
doubled POST does nothing twice; every refusal writes nothing and leaves the group open."""
from __future__ import annotations

import asyncio
import re
import secrets
import threading
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from tests.integration.ops_console import OpsConsole, git

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    running = OpsConsole.start(tmp_path_factory.mktemp("learn"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def ops(console) -> requests.Session:
    return console.login("ops")


def run(console: OpsConsole, body) -> Any:
    from bot import redis_conn

    async def main():
        client = redis_conn.make_redis(console.redis.url)
        try:
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(main())


def record_group(console: OpsConsole, texts: List[str], guess: Optional[str] = None) -> str:
    """The messages as action_faq_fallback records them (no embedding: grouped by characters);
    they must all land in one new group."""
    from actions.faq import inbox
    from actions.faq.settings import load_settings

    guesses = [{"key": guess, "score": 0.41, "source": "classifier"}] if guess else []

    async def body(client) -> List[str]:
        gids = []
        for text in texts:
            entry = inbox.InboxEntry(text=text, customer=f"c-{secrets.token_hex(3)}", channel="wechat_mp",
                                     outcome="none", guesses=guesses)
            gids.append(await inbox.record(client, entry, None, load_settings()))
        return gids
    gids = run(console, body)
    assert len(set(gids)) == 1, f"the test's messages did not group together: {gids}"
    assert group_of(console, gids[0])["count"] == len(texts), "the messages joined another test's group"
    return gids[0]


def group_of(console: OpsConsole, gid: str) -> Dict[str, Any]:
    from common import inbox_store
    return run(console, lambda client: inbox_store.get_group(client, gid, samples=0))


def head(console: OpsConsole) -> str:
    return git(console.repo, "rev-parse", "HEAD").strip()


def clean(console: OpsConsole) -> bool:
    return git(console.repo, "status", "--porcelain") == ""


def examples_of(console: OpsConsole, intent: str) -> List[str]:
    from bot.console.nlu_data import NluData
    return [e["text"] for e in NluData(console.repo).examples(intent)]


def post(session: requests.Session, console: OpsConsole, path: str, body: Any) -> requests.Response:
    return session.post(f"{console.url}/api/ops/learn{path}", json=body, timeout=60)


def unchanged(console: OpsConsole, before: str) -> None:
    assert head(console) == before and clean(console)


# --- reading the inbox ------------------------------------------------------------------

def test_groups_list_masked_samples_counts_and_the_suggested_intent(console, ops):
    gid = record_group(console, ["你们卖不卖猫粮", "你们卖猫粮吗", "你们卖猫粮吗"], guess="shipping_fee")
    phone = record_group(console, ["我电话13800138000想问下怎么开发票"])
    answer = ops.get(f"{console.url}/api/ops/learn/groups", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    groups = {g["id"]: g for g in answer.json()["groups"]}
    group = groups[gid]
    assert group["count"] == 3 and group["status"] == "open" and group["label"] == "你们卖不卖猫粮"
    assert group["suggested_intent"] == "faq/shipping_fee" and group["last_ts"] and group["first_ts"]
    assert [s["text"] for s in group["samples"]] == ["你们卖猫粮吗", "你们卖猫粮吗", "你们卖不卖猫粮"]
    assert groups[phone]["suggested_intent"] is None
    assert "13800138000" not in answer.text and "138****8000" in groups[phone]["samples"][0]["text"]

    detail = ops.get(f"{console.url}/api/ops/learn/groups/{gid}", timeout=30).json()
    assert [(m["text"], m["count"]) for m in detail["messages"]] == [("你们卖猫粮吗", 2), ("你们卖不卖猫粮", 1)]

    assert ops.get(f"{console.url}/api/ops/learn/groups/99999", timeout=30).status_code == 404
    bad = ops.get(f"{console.url}/api/ops/learn/groups?status=closed", timeout=30)
    assert bad.status_code == 400 and CJK.search(bad.json()["error"])
    assert ops.get(f"{console.url}/api/ops/learn/groups?limit=x", timeout=30).status_code == 400


def test_intents_for_the_picker_carry_faq_titles(console, ops):
    answer = ops.get(f"{console.url}/api/ops/learn/intents", timeout=30)
    assert answer.status_code == 200
    intents = {i["name"]: i for i in answer.json()["intents"]}
    assert intents["faq/shipping_fee"]["title"] == "运费多少？满多少包邮？"
    assert intents["faq/shipping_fee"]["kind"] == "faq" and intents["greet"]["kind"] == "intent"
    assert all(i["count"] > 0 for i in intents.values())


# --- a group's messages become examples ------------------------------------------------

def test_group_messages_become_examples_in_one_commit_by_the_account(console, ops):
    texts = ["寄到新疆要加运费不", "寄到新疆要加运费吗"]
    gid = record_group(console, texts + ["寄到新疆要加运费吗"])
    before = head(console)
    answer = post(ops, console, f"/groups/{gid}/examples", {"intent": "faq/shipping_fee"})
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert sorted(done["added"]) == sorted(texts) and done["skipped"] == [] and done["needs_training"] is True
    assert done["paths"] == ["data/nlu/faq.yml"]

    # one commit, authored and committed by the ops account, touching only faq.yml
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert head(console) == done["commit"] and clean(console)
    user = console.accounts["ops"]
    assert git(console.repo, "log", "-1", "--format=%ae|%ce").strip() == f"{user}@console.local|{user}@console.local"
    assert git(console.repo, "show", "--name-only", "--format=", "HEAD").split() == ["data/nlu/faq.yml"]
    assert set(texts) <= set(examples_of(console, "faq/shipping_fee"))

    group = group_of(console, gid)
    assert (group["status"], group["handled_by"], group["how"]) == ("handled", user, "examples")
    assert "faq/shipping_fee" in group["note"] and done["group"]["how"] == "examples"
    open_ids = [g["id"] for g in ops.get(f"{console.url}/api/ops/learn/groups", timeout=30).json()["groups"]]
    handled = ops.get(f"{console.url}/api/ops/learn/groups?status=handled", timeout=30).json()["groups"]
    assert gid not in open_ids and gid in [g["id"] for g in handled]

    # the retried POST (a double click, a lost answer): nothing twice
    again = post(ops, console, f"/groups/{gid}/examples", {"intent": "faq/shipping_fee"})
    assert again.status_code == 409 and again.json()["already_handled"] is True
    assert user in again.json()["error"]
    unchanged(console, done["commit"])
    assert examples_of(console, "faq/shipping_fee").count(texts[0]) == 1


def test_chosen_messages_only_and_examples_already_there_are_skipped(console, ops):
    gid = record_group(console, ["包邮吗", "包邮吗亲", "包邮吗亲们"])
    before = head(console)
    answer = post(ops, console, f"/groups/{gid}/examples",
                  {"intent": "faq/shipping_fee", "messages": ["包邮吗", "包邮吗亲"]})
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["added"] == ["包邮吗亲"]
    assert done["skipped"] == [{"text": "包邮吗", "reason": "已经是这个意图的例句"}]
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    examples = examples_of(console, "faq/shipping_fee")
    assert "包邮吗亲们" not in examples and examples.count("包邮吗") == 1
    assert group_of(console, gid)["status"] == "handled"


def test_a_duplicate_of_another_intent_is_409_with_the_conflicts_until_forced(console, ops):
    gid = record_group(console, ["多久发货", "多久发货呢"])
    before = head(console)
    refused = post(ops, console, f"/groups/{gid}/examples", {"intent": "faq/shipping_fee"})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert {"text": "多久发货", "intent": "faq/shipping_time", "example": "多久发货", "kind": "duplicate"} \
        in body["conflicts"] and CJK.search(body["error"])
    unchanged(console, before)
    assert group_of(console, gid)["status"] == "open"
    assert "多久发货呢" not in examples_of(console, "faq/shipping_fee")  # nothing half-done

    forced = post(ops, console, f"/groups/{gid}/examples", {"intent": "faq/shipping_fee", "force": True})
    assert forced.status_code == 200, forced.text
    assert sorted(forced.json()["added"]) == ["多久发货", "多久发货呢"]
    assert any(w["text"] == "多久发货" for w in forced.json()["warnings"])
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1" and clean(console)
    assert group_of(console, gid)["status"] == "handled"


def test_two_posts_at_once_add_once(console, ops):
    gid = record_group(console, ["快递能放驿站吗", "快递能放驿站不"])
    before = head(console)
    answers: List[requests.Response] = []

    def send() -> None:
        answers.append(post(console.login("ops"), console, f"/groups/{gid}/examples",
                            {"intent": "faq/shipping_carrier"}))
    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    assert examples_of(console, "faq/shipping_carrier").count("快递能放驿站吗") == 1


# --- a new FAQ, a dismissal ------------------------------------------------------------------

def test_a_new_faq_from_a_group_in_one_commit(console, ops):
    gid = record_group(console, ["你们有没有宠物沐浴露", "你们有宠物沐浴露吗"])
    before = head(console)
    body = {"key": "pet_care", "title": "有宠物用品吗？", "answers": ["{persona}家只做人用护肤品哦{emoji_sorry}"],
            "more": ["卖不卖宠物用品"]}
    answer = post(ops, console, f"/groups/{gid}/faq", body)
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["intent"] == "faq/pet_care" and done["created"] is True and len(done["added"]) == 3
    assert done["paths"] == ["actions/faq/titles.yml", "data/nlu/faq.yml", "data/responses/faq.yml"]
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1" and clean(console)
    assert sorted(git(console.repo, "show", "--name-only", "--format=", "HEAD").split()) == done["paths"]
    assert "pet_care: 有宠物用品吗？" in (console.repo / "actions/faq/titles.yml").read_text(encoding="utf-8")
    assert sorted(examples_of(console, "faq/pet_care")) == sorted(["你们有没有宠物沐浴露", "你们有宠物沐浴露吗", "卖不卖宠物用品"])
    group = group_of(console, gid)
    assert (group["status"], group["handled_by"], group["how"]) == ("handled", console.accounts["ops"], "faq")

    again = post(ops, console, f"/groups/{gid}/faq", body)
    assert again.status_code == 409 and again.json()["already_handled"] is True
    unchanged(console, done["commit"])

    # the FAQ appears in the picker with its title
    intents = {i["name"]: i for i in ops.get(f"{console.url}/api/ops/learn/intents", timeout=30).json()["intents"]}
    assert intents["faq/pet_care"]["title"] == "有宠物用品吗？"


def test_a_faq_key_that_exists_or_a_bad_answer_is_refused_and_the_group_stays_open(console, ops):
    gid = record_group(console, ["可以刻字吗", "可以刻字不"])
    before = head(console)
    for body in ({"key": "shipping_fee", "title": "刻字", "answers": ["不可以"]},
                 {"key": "Bad Key", "title": "刻字", "answers": ["不可以"]},
                 {"key": "engraving", "title": "刻字", "answers": ["{unknown_placeholder}"]},
                 {"key": "engraving", "title": "", "answers": ["不可以"]},
                 {"key": "engraving", "title": "刻字", "answers": []},
                 {"key": "engraving", "title": "刻字", "answers": ["不可以"], "messages": ["可以刻字吗"]}):
        answer = post(ops, console, f"/groups/{gid}/faq", body)
        assert answer.status_code == 400, (body, answer.text)
        assert CJK.search(answer.json()["error"]), answer.text
        unchanged(console, before)
    assert group_of(console, gid)["status"] == "open"


def test_dismiss_records_who_and_why_without_a_commit(console, ops):
    gid = record_group(console, ["你们招不招兼职", "你们招兼职吗"])
    before = head(console)
    answer = post(ops, console, f"/groups/{gid}/dismiss", {"note": "招聘，不是顾客的问题"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["commit"] is None
    group = group_of(console, gid)
    assert (group["status"], group["handled_by"], group["how"], group["note"]) == \
        ("handled", console.accounts["ops"], "dismiss", "招聘，不是顾客的问题")
    again = post(ops, console, f"/groups/{gid}/dismiss", {})
    assert again.status_code == 409
    assert group_of(console, gid)["note"] == "招聘，不是顾客的问题"
    unchanged(console, before)


# --- messages chosen in the review -----------------------------------------------------------

def test_review_messages_become_examples_and_a_retry_adds_nothing(console, ops):
    texts = ["今天下单明天能到上海吗", "明天能送到上海吗"]
    before = head(console)
    answer = post(ops, console, "/messages/examples", {"intent": "faq/shipping_time", "texts": texts})
    assert answer.status_code == 200, answer.text
    first = answer.json()
    assert first["added"] == texts and first["commit"] == head(console)
    assert git(console.repo, "rev-list", "--count", f"{before}..HEAD").strip() == "1"

    retry = post(ops, console, "/messages/examples", {"intent": "faq/shipping_time", "texts": texts})
    assert retry.status_code == 200
    assert retry.json()["added"] == [] and retry.json()["commit"] is None and len(retry.json()["skipped"]) == 2
    unchanged(console, first["commit"])


# --- refusals write nothing ----------------------------------------------------------------

def test_bad_input_is_400_in_chinese_and_writes_nothing(console, ops):
    gid = record_group(console, ["能寄到国外吗", "能寄到国外不"])
    before = head(console)
    cases = [
        (f"/groups/{gid}/examples", {"intent": "no_such_intent"}),
        (f"/groups/{gid}/examples", {"intent": ""}),
        (f"/groups/{gid}/examples", {"intent": "faq/shipping_fee", "messages": []}),
        (f"/groups/{gid}/examples", {"intent": "faq/shipping_fee", "messages": ["不是这组的消息"]}),
        (f"/groups/{gid}/examples", {"intent": "faq/shipping_fee", "messages": [3]}),
        (f"/groups/{gid}/examples", {"intent": "faq/shipping_fee", "force": "yes"}),
        (f"/groups/{gid}/dismiss", {"note": 5}),
        ("/messages/examples", {"intent": "faq/shipping_fee", "texts": []}),
        ("/messages/examples", {"intent": "faq/shipping_fee"}),
        ("/messages/examples", {"intent": "faq/no_such_key", "texts": ["能寄到国外吗"]}),
        ("/messages/examples", {"intent": "faq/shipping_fee", "texts": ["两行\n例句"]}),
        ("/messages/examples", {"intent": "faq/shipping_fee", "texts": ["这句没问题呀", "[半个标注"]}),
    ]
    for path, body in cases:
        answer = post(ops, console, path, body)
        assert answer.status_code == 400, (path, body, answer.text)
        assert CJK.search(answer.json()["error"]), answer.text
        unchanged(console, before)
    for path in (f"/groups/{gid}/examples", f"/groups/{gid}/faq", f"/groups/{gid}/dismiss", "/messages/examples"):
        malformed = ops.post(f"{console.url}/api/ops/learn{path}", data=b"{not json",
                             headers={"Content-Type": "application/json"}, timeout=30)
        assert malformed.status_code == 400 and CJK.search(malformed.json()["error"]), path
        listed = ops.post(f"{console.url}/api/ops/learn{path}", json=["a list"], timeout=30)
        assert listed.status_code == 400, path
    for path in ("/groups/99999/examples", "/groups/99999/dismiss", "/groups/99999/faq"):
        answer = post(ops, console, path, {"intent": "faq/shipping_fee", "key": "abc", "title": "t", "answers": ["a"]})
        assert answer.status_code == 404 and CJK.search(answer.json()["error"]), path
    assert post(ops, console, "/groups/abc/examples", {"intent": "faq/shipping_fee"}).status_code == 404
    unchanged(console, before)
    assert "这句没问题呀" not in examples_of(console, "faq/shipping_fee")
    assert group_of(console, gid)["status"] == "open"


def test_only_signed_in_ops_with_the_csrf_token_may_write(console):
    gid = record_group(console, ["支持货到付款吗", "支持货到付款不"])
    before = head(console)
    guide, no_csrf, admin = console.login("guide"), console.login("ops", csrf=False), console.login("admin")
    writes = [(f"/groups/{gid}/examples", {"intent": "faq/payment_methods"}),
              (f"/groups/{gid}/faq", {"key": "cod", "title": "货到付款？", "answers": ["不支持"]}),
              (f"/groups/{gid}/dismiss", {}),
              ("/messages/examples", {"intent": "faq/payment_methods", "texts": ["支持货到付款吗"]})]
    for path, body in writes:
        assert requests.post(f"{console.url}/api/ops/learn{path}", json=body, timeout=30).status_code == 401, path
        forged = requests.post(f"{console.url}/api/ops/learn{path}", json=body, timeout=30,
                               cookies={"staff_session": "forged"})
        assert forged.status_code == 401, path
        assert post(guide, console, path, body).status_code == 403, path
        refused = post(no_csrf, console, path, body)
        assert refused.status_code == 403 and "CSRF" in refused.json()["error"], path
        # the session cookie with another session's token is no better
        wrong = no_csrf.post(f"{console.url}/api/ops/learn{path}", json=body, timeout=30,
                             headers={"X-CSRF-Token": secrets.token_hex(16)})
        assert wrong.status_code == 403, path
    for path in ("/groups", f"/groups/{gid}", "/intents"):
        assert requests.get(f"{console.url}/api/ops/learn{path}", timeout=30).status_code == 401, path
        assert guide.get(f"{console.url}/api/ops/learn{path}", timeout=30).status_code == 403, path
        assert admin.get(f"{console.url}/api/ops/learn{path}", timeout=30).status_code == 200, path
    unchanged(console, before)
    assert group_of(console, gid)["status"] == "open"

    # an admin may do what ops do
    done = post(admin, console, f"/groups/{gid}/dismiss", {"note": "测试"})
    assert done.status_code == 200 and group_of(console, gid)["handled_by"] == console.accounts["admin"]
