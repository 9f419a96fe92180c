"""The ops console's NLU editor API (bot/console/nlu_api.py) on a real console
process with its own Redis and a throwaway git copy of the data (ops_console.py).

What ops would notice: each save is one git commit by their account that changes
only the lines they meant to change; a phrasing of another intent is refused
with the conflicts listed unless forced; a new FAQ is complete (examples,
answer, title) as Rasa reads it; answers preview in each persona's voice; bad
input, a missing session, a guide and a missing CSRF token change nothing."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests
import yaml

from tests.integration.ops_console import OpsConsole, git

API = "/api/ops/nlu"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[OpsConsole]:
    started = OpsConsole.start(tmp_path_factory.mktemp("nlu_api"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def ops(console: OpsConsole) -> requests.Session:
    return console.login("ops")


def url(console: OpsConsole, path: str) -> str:
    return console.url + API + path


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--untracked-files=all")


def numstat(repo: Path) -> List[Tuple[int, int, str]]:
    """(added, deleted, path) of each file the last commit changed."""
    rows = []
    for line in git(repo, "diff", "--numstat", "HEAD~1", "HEAD").splitlines():
        added, deleted, path = line.split("\t")
        rows.append((int(added), int(deleted), path))
    return sorted(rows, key=lambda r: r[2])


def diff_lines(repo: Path) -> Tuple[List[str], List[str]]:
    """(removed, added) lines of the last commit."""
    removed, added = [], []
    for line in git(repo, "diff", "-U0", "HEAD~1", "HEAD").splitlines():
        if line.startswith("-") and not line.startswith("---"):
            removed.append(line[1:])
        elif line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    return removed, added


def assert_committed_by(console: OpsConsole, answer: requests.Response, words: str) -> None:
    """The answer names the new HEAD, authored (and committed) by the ops account."""
    assert answer.status_code == 200, answer.text
    repo = console.repo
    assert answer.json()["commit"] == head(repo)
    name, email, committer, subject = git(repo, "log", "-1", "--format=%an%n%ae%n%cn%n%s").splitlines()
    assert (name, committer) == ("ops 测试", "ops 测试")
    assert email == f"{console.accounts['ops']}@console.local"
    assert words in subject and console.accounts["ops"] in subject
    assert status(repo) == "", "the save left files uncommitted"


def examples(ops: requests.Session, console: OpsConsole, intent: str) -> Dict[str, Any]:
    answer = ops.get(url(console, f"/intents/{intent}/examples"))
    assert answer.status_code == 200, answer.text
    return answer.json()


def texts(ops: requests.Session, console: OpsConsole, intent: str) -> List[str]:
    return [e["text"] for e in examples(ops, console, intent)["examples"]]


# --------------------------------------------------------------------------- reading


def test_intents_lists_intents_and_faq_keys_with_titles_and_counts(console, ops):
    answer = ops.get(url(console, "/intents"))
    assert answer.status_code == 200
    data = answer.json()
    rows = {row["name"]: row for row in data["intents"]}
    titles = yaml.safe_load((console.repo / "actions/faq/titles.yml").read_text(encoding="utf-8"))
    assert rows["faq/shipping_fee"]["title"] == titles["shipping_fee"] == "运费多少？满多少包邮？"
    assert rows["greet"]["title"] is None and rows["greet"]["count"] > 10
    # the count is the number of examples the intent's page lists
    assert rows["faq/shipping_fee"]["count"] == len(texts(ops, console, "faq/shipping_fee"))
    assert {"skin_type", "faq_key"} <= set(data["entities"])
    assert {p["id"]: p["name"] for p in data["personas"]} == {"qiqi": "七七", "xiaowanzi": "小完子"}


def test_examples_of_a_faq_key_come_with_its_answers_and_entities_are_parsed(console, ops):
    faq = examples(ops, console, "faq/shipping_fee")
    responses = yaml.safe_load((console.repo / "data/responses/faq.yml").read_text(encoding="utf-8"))
    assert faq["answers"] == [r["text"] for r in responses["responses"]["utter_faq/shipping_fee"]]
    assert "喂你好我想问一下那个满多少包邮啊" in [e["text"] for e in faq["examples"]]
    skin = examples(ops, console, "inform_skin_type")
    assert skin["answers"] is None
    marked = next(e for e in skin["examples"] if e["text"] == '我是那种[超油的]{"entity": "skin_type", "value": "oily"}')
    assert marked["plain"] == "我是那种超油的"
    assert marked["entities"] == [{"start": 4, "end": 7, "value": "oily", "entity": "skin_type"}]


def test_unknown_intent_is_400(console, ops):
    answer = ops.get(url(console, "/intents/faq/no_such_key/examples"))
    assert answer.status_code == 400 and CJK.search(answer.json()["error"])


# --------------------------------------------------------------------------- examples


def test_add_an_example_with_an_entity_span_is_one_commit_of_one_line(console, ops):
    answer = ops.post(url(console, "/examples"), json={
        "intent": "inform_skin_type", "text": "本人油皮一枚",
        "spans": [{"start": 2, "end": 4, "entity": "skin_type", "value": "oily"}]})
    assert_committed_by(console, answer, "本人")
    assert answer.json()["warnings"] == []
    [(added, deleted, path)] = numstat(console.repo)
    assert (added, deleted) == (1, 0) and path.startswith("data/nlu/")
    assert answer.json()["files"] == [path]
    line = '- 本人[油皮]{"entity": "skin_type", "value": "oily"}一枚'
    assert diff_lines(console.repo) == ([], ["    " + line])
    listed = next(e for e in examples(ops, console, "inform_skin_type")["examples"] if e["plain"] == "本人油皮一枚")
    assert listed["entities"] == [{"start": 2, "end": 4, "value": "oily", "entity": "skin_type"}]


def test_a_span_whose_value_is_its_text_is_written_short(console, ops):
    answer = ops.post(url(console, "/examples"), json={
        "intent": "inform_skin_type", "text": "天生敏感肌",
        "spans": [{"start": 2, "end": 5, "entity": "skin_type"}]})
    assert_committed_by(console, answer, "天生")
    assert diff_lines(console.repo)[1] == ["    - 天生[敏感肌](skin_type)"]


def test_edit_an_example_changes_only_its_line(console, ops):
    before = head(console.repo)
    answer = ops.put(url(console, "/examples"), json={
        "intent": "faq/shipping_fee", "old": "喂你好我想问一下那个满多少包邮啊", "text": "喂你好想问下满多少钱包邮"})
    assert_committed_by(console, answer, "喂你好想问下满多少钱包邮")
    assert git(console.repo, "rev-parse", "HEAD~1").strip() == before
    assert [(a, d) for a, d, _ in numstat(console.repo)] == [(1, 1)]
    removed, added = diff_lines(console.repo)
    assert [r.strip() for r in removed] == ["- 喂你好我想问一下那个满多少包邮啊"]
    assert [a.strip() for a in added] == ["- 喂你好想问下满多少钱包邮"]
    assert "喂你好想问下满多少钱包邮" in texts(ops, console, "faq/shipping_fee")


def test_delete_an_example_removes_only_its_line(console, ops):
    target = "嗯就是我只买一瓶洗面奶然后要不要自己付运费"
    answer = ops.delete(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": target})
    assert_committed_by(console, answer, target[:10])
    assert [(a, d) for a, d, _ in numstat(console.repo)] == [(0, 1)]
    assert [r.strip() for r in diff_lines(console.repo)[0]] == [f"- {target}"]
    assert target not in texts(ops, console, "faq/shipping_fee")


def test_a_phrasing_of_another_intent_is_refused_with_the_conflicts_until_forced(console, ops):
    before = head(console.repo)
    refused = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "多久发货"})
    assert refused.status_code == 409
    body = refused.json()
    assert "faq/shipping_time" in body["error"] and "仍然保存" in body["error"]
    assert {"kind": "duplicate", "intent": "faq/shipping_time", "text": "多久发货"}.items() <= body["conflicts"][0].items()
    assert body["conflicts"][0]["title"] == "下单后多久发货？" and body["force_allowed"] is True
    assert head(console.repo) == before and status(console.repo) == ""

    near = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "多久发货呀"})
    assert near.status_code == 409
    assert [(c["kind"], c["intent"], c["text"]) for c in near.json()["conflicts"]] == \
        [("near", "faq/shipping_time", "多久发货")]
    assert head(console.repo) == before and status(console.repo) == ""

    forced = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "多久发货呀", "force": True})
    assert_committed_by(console, forced, "多久发货呀")
    assert [(w["kind"], w["intent"], w["text"]) for w in forced.json()["warnings"]] == \
        [("near", "faq/shipping_time", "多久发货")]
    assert "多久发货呀" in texts(ops, console, "faq/shipping_fee")


def test_a_repeat_within_the_same_intent_cannot_be_forced(console, ops):
    before = head(console.repo)
    answer = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_time", "text": "多久发货", "force": True})
    assert answer.status_code == 409
    assert answer.json()["force_allowed"] is False and "faq/shipping_time" in answer.json()["error"]
    assert head(console.repo) == before and status(console.repo) == ""


def test_an_edit_into_another_intents_phrasing_is_refused_too(console, ops):
    before = head(console.repo)
    answer = ops.put(url(console, "/examples"), json={
        "intent": "faq/shipping_fee", "old": "你好那个我在新疆这边寄过来运费是多少啊", "text": "多久发货"})
    assert answer.status_code == 409 and answer.json()["conflicts"][0]["intent"] == "faq/shipping_time"
    assert head(console.repo) == before and status(console.repo) == ""


def test_check_lists_conflicts_without_saving(console, ops):
    before = head(console.repo)
    answer = ops.post(url(console, "/check"), json={"intent": "faq/shipping_fee", "text": "多久发货"})
    assert answer.status_code == 200
    assert [(c["kind"], c["intent"]) for c in answer.json()["conflicts"]] == [("duplicate", "faq/shipping_time")]
    clean = ops.post(url(console, "/check"), json={"intent": "faq/shipping_fee", "text": "我在新疆运费多少"})
    assert clean.json()["conflicts"] == []
    assert head(console.repo) == before and status(console.repo) == ""


def test_segment_uses_the_brand_dictionary(console, ops):
    answer = ops.post(url(console, "/segment"), json={"text": "油皮适合小绿瓶修护精华吗"})
    assert answer.status_code == 200
    tokens = answer.json()["tokens"]
    assert "小绿瓶修护精华" in tokens  # data/jieba/brand.txt; jieba's own dictionary splits it
    assert "".join(tokens) == "油皮适合小绿瓶修护精华吗"


def test_an_edit_after_a_revert_keeps_the_revert(console, ops):
    """The history tab's revert rewrites the file underneath the editor: the next
    save starts from the reverted file and does not bring the reverted line back."""
    added = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "寄到西藏要加钱吗"})
    assert_committed_by(console, added, "寄到西藏")
    revert = ops.post(console.url + f"/api/ops/history/{added.json()['commit']}/revert")
    assert revert.status_code == 200, revert.text
    assert "寄到西藏要加钱吗" not in texts(ops, console, "faq/shipping_fee")
    again = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "运费险有没有"})
    assert_committed_by(console, again, "运费险")
    assert diff_lines(console.repo) == ([], ["    - 运费险有没有"])
    assert "寄到西藏要加钱吗" not in (console.repo / "data/nlu/faq.yml").read_text(encoding="utf-8")


def test_a_save_whose_commit_is_refused_leaves_the_files_as_they_were(console, ops):
    """A developer's merge in progress: git refuses the commit, and the file edit is undone."""
    marker = console.repo / ".git" / "MERGE_HEAD"
    marker.write_text(head(console.repo) + "\n")
    before = head(console.repo)
    try:
        answer = ops.post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "偏远地区怎么收运费"})
        assert answer.status_code == 409 and "合并" in answer.json()["error"]
        assert head(console.repo) == before and status(console.repo) == ""
    finally:
        marker.unlink()
    assert "偏远地区怎么收运费" not in texts(ops, console, "faq/shipping_fee")


# --------------------------------------------------------------------------- FAQ and answers


@pytest.mark.filterwarnings("ignore:Slot auto-fill:UserWarning")  # Rasa's loader on domain.yml
def test_create_a_faq_key_end_to_end(console, ops):
    answer = ops.post(url(console, "/faq"), json={
        "key": "gift_wrap", "title": "能帮忙包装成礼物吗？",
        "examples": ["能帮忙包成礼物吗", "送人的可以包装吗", "有没有礼盒包装"],
        "answers": ["可以的～{you}下单时备注「礼物包装」就好{emoji_gift}", "{persona}帮{you}记下啦，备注礼物包装即可。"]})
    assert_committed_by(console, answer, "faq/gift_wrap")
    changed = {path: (a, d) for a, d, path in numstat(console.repo)}
    assert set(changed) == {"data/nlu/faq.yml", "data/responses/faq.yml", "actions/faq/titles.yml"}
    assert all(d == 0 for a, d in changed.values()), "existing lines were rewritten"
    assert changed["actions/faq/titles.yml"] == (1, 0)
    assert changed["data/nlu/faq.yml"][0] <= 3 + 3  # header, examples, a blank line
    assert changed["data/responses/faq.yml"][0] <= 2 + 2

    # As the console's data library reads the repo afresh ...
    from bot.console.nlu_data import NluData
    fresh = NluData(console.repo)
    row = next(r for r in fresh.intents() if r["name"] == "faq/gift_wrap")
    assert (row["title"], row["count"]) == ("能帮忙包装成礼物吗？", 3)
    assert fresh.answers("faq/gift_wrap") == ["可以的～{you}下单时备注「礼物包装」就好{emoji_gift}",
                                              "{persona}帮{you}记下啦，备注礼物包装即可。"]
    # ... and as Rasa reads it: the examples are faq/gift_wrap and the domain has its response.
    from rasa.shared.core.domain import Domain
    from rasa.shared.nlu.training_data.loading import load_data
    domain = Domain.load([str(console.repo / "domain.yml"), str(console.repo / "data/responses")])
    assert "faq" in domain.intents and "utter_faq/gift_wrap" in domain.responses
    nlu = load_data(str(console.repo / "data/nlu/faq.yml"))
    assert sorted(m.get("text") for m in nlu.intent_examples if m.get_full_intent() == "faq/gift_wrap") == \
        sorted(["能帮忙包成礼物吗", "送人的可以包装吗", "有没有礼盒包装"])
    # ... and as the page shows it
    listed = examples(ops, console, "faq/gift_wrap")
    assert listed["title"] == "能帮忙包装成礼物吗？" and len(listed["answers"]) == 2


def test_a_faq_key_that_exists_or_is_malformed_is_400(console, ops):
    before = head(console.repo)
    for key in ("shipping_fee", "Gift Wrap", "x"):
        answer = ops.post(url(console, "/faq"), json={
            "key": key, "title": "标题", "examples": ["甲乙丙丁戊", "己庚辛壬癸"], "answers": ["好的"]})
        assert answer.status_code == 400, (key, answer.text)
        assert CJK.search(answer.json()["error"])
    assert head(console.repo) == before and status(console.repo) == ""


def test_a_new_faq_with_another_intents_phrasing_is_refused_until_forced(console, ops):
    body = {"key": "ship_fast", "title": "能加急发货吗？", "examples": ["多久发货", "可以加急发出吗"], "answers": ["可以备注加急哦"]}
    before = head(console.repo)
    refused = ops.post(url(console, "/faq"), json=body)
    assert refused.status_code == 409 and refused.json()["force_allowed"] is True
    assert refused.json()["conflicts"][0]["intent"] == "faq/shipping_time"
    assert head(console.repo) == before and status(console.repo) == ""
    forced = ops.post(url(console, "/faq"), json={**body, "force": True})
    assert_committed_by(console, forced, "faq/ship_fast")


def test_set_answers_changes_only_the_changed_answer(console, ops):
    old = examples(ops, console, "faq/shipping_carrier")["answers"]
    new = ["默认发{fact:default_carrier}，着急可以选{fact:sf_carrier}。{emoji_happy}"] + old[1:]
    answer = ops.put(url(console, "/answers/faq/shipping_carrier"), json={"answers": new})
    assert_committed_by(console, answer, "utter_faq/shipping_carrier")
    assert numstat(console.repo) == [(1, 1, "data/responses/faq.yml")]
    assert examples(ops, console, "faq/shipping_carrier")["answers"] == new
    # a bare key means the FAQ key too
    again = ops.put(url(console, "/answers/shipping_carrier"), json={"answers": new + ["{you}想发顺丰就备注一下～"]})
    assert_committed_by(console, again, "utter_faq/shipping_carrier")
    assert numstat(console.repo) == [(1, 0, "data/responses/faq.yml")]


def test_answers_with_an_unknown_placeholder_are_refused(console, ops):
    before = head(console.repo)
    answer = ops.put(url(console, "/answers/faq/shipping_fee"), json={"answers": ["满{fact:no_such_fact}包邮"]})
    assert answer.status_code == 400 and "no_such_fact" in answer.json()["error"]
    assert head(console.repo) == before and status(console.repo) == ""


def test_preview_renders_an_unsaved_answer_in_each_personas_voice(console, ops):
    facts = yaml.safe_load((console.repo / "data/brand/facts.yml").read_text(encoding="utf-8"))
    before = head(console.repo)
    answer = ops.post(url(console, "/preview"), json={"text": "{you}好，我是{persona}，满{fact:free_shipping_threshold}元包邮！"})
    assert answer.status_code == 200, answer.text
    shown = {p["persona"]: p for p in answer.json()["previews"]}
    threshold = facts["free_shipping_threshold"]
    assert shown["qiqi"]["text"].startswith(f"你好，我是七七，满{threshold}元包邮")
    assert shown["xiaowanzi"]["text"].startswith(f"宝子好，我是小完子，满{threshold}元包邮")
    assert shown["qiqi"]["name"] == "七七"
    one = ops.post(url(console, "/preview"), json={"text": "我是{persona}", "persona": "xiaowanzi"})
    assert [p["text"] for p in one.json()["previews"]] == ["我是小完子"]
    assert head(console.repo) == before and status(console.repo) == ""


@pytest.mark.parametrize("body, words", [
    ({"text": "满{fact:nope}包邮"}, "nope"),
    ({"text": "{persona_name}你好"}, "persona_name"),
    ({"text": "我是{persona}", "persona": "nobody"}, "nobody"),
    ({"text": "我是{persona}", "persona": "../domain"}, "人设"),
])
def test_preview_refuses_unknown_placeholders_and_personas(console, ops, body, words):
    answer = ops.post(url(console, "/preview"), json=body)
    assert answer.status_code == 400 and words in answer.json()["error"]


# --------------------------------------------------------------------------- bad input and attacks


STATE_CHANGING = [
    ("POST", "/examples", {"intent": "faq/shipping_fee", "text": "攻击者加的例句"}),
    ("PUT", "/examples", {"intent": "faq/shipping_fee", "old": "你好那个我在新疆这边寄过来运费是多少啊", "text": "攻击者改的"}),
    ("DELETE", "/examples", {"intent": "faq/shipping_fee", "text": "你好那个我在新疆这边寄过来运费是多少啊"}),
    ("POST", "/faq", {"key": "attack", "title": "攻击", "examples": ["攻击一下子", "再攻击一下子"], "answers": ["好"]}),
    ("PUT", "/answers/faq/shipping_fee", {"answers": ["攻击者的回答"]}),
    ("POST", "/preview", {"text": "我是{persona}"}),
    ("POST", "/segment", {"text": "油皮用什么"}),
    ("POST", "/check", {"intent": "faq/shipping_fee", "text": "多久发货"}),
]


@pytest.mark.parametrize("method, path, body", STATE_CHANGING, ids=[f"{m} {p}" for m, p, _ in STATE_CHANGING])
def test_no_session_guide_and_missing_csrf_are_refused_and_change_nothing(console, method, path, body):
    before = head(console.repo)
    anonymous = requests.request(method, url(console, path), json=body, timeout=10)
    assert anonymous.status_code == 401
    guide = console.login("guide").request(method, url(console, path), json=body, timeout=10)
    assert guide.status_code == 403
    no_csrf = console.login("ops", csrf=False).request(method, url(console, path), json=body, timeout=10)
    assert no_csrf.status_code == 403
    assert head(console.repo) == before and status(console.repo) == ""


@pytest.mark.parametrize("path", ["/intents", "/intents/faq/shipping_fee/examples"])
def test_reading_needs_an_ops_session(console, path):
    assert requests.get(url(console, path), timeout=10).status_code == 401
    assert console.login("guide").get(url(console, path), timeout=10).status_code == 403
    assert console.login("admin").get(url(console, path), timeout=10).status_code == 200


def test_admin_may_edit_too(console):
    answer = console.login("admin").post(url(console, "/examples"), json={"intent": "faq/shipping_fee", "text": "新疆包邮不"})
    assert answer.status_code == 200, answer.text
    assert git(console.repo, "log", "-1", "--format=%an").strip() == "admin 测试"


BAD = [
    ("POST", "/examples", b'{"intent": "faq/shipping_fee", "text": '),
    ("POST", "/examples", b'["faq/shipping_fee", "x"]'),
    ("POST", "/examples", {"intent": "faq/no_such_key", "text": "一个新问法"}),
    ("POST", "/examples", {"intent": "nonexistent_intent", "text": "一个新问法"}),
    ("POST", "/examples", {"intent": "faq/shipping_fee", "text": "   "}),
    ("POST", "/examples", {"intent": "faq/shipping_fee"}),
    ("POST", "/examples", {"intent": "faq/shipping_fee", "text": "第一行\n第二行"}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": [{"start": 3, "end": 9, "entity": "skin_type"}]}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": [{"start": 3, "end": 2, "entity": "skin_type"}]}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": [{"start": "2", "end": 4, "entity": "skin_type"}]}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": [{"start": 2, "end": 4, "entity": "no_such_entity"}]}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": [{"start": 2, "end": 4}]}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": [
        {"start": 1, "end": 3, "entity": "skin_type"}, {"start": 2, "end": 4, "entity": "skin_type"}]}),
    ("POST", "/examples", {"intent": "inform_skin_type", "text": "我是油皮", "spans": "2-4"}),
    ("PUT", "/examples", b"not json"),
    ("PUT", "/examples", {"intent": "faq/shipping_fee", "old": "从来没有这句话", "text": "新的话"}),
    ("PUT", "/examples", {"intent": "faq/shipping_fee", "old": "", "text": "新的话"}),
    ("DELETE", "/examples", b"{"),
    ("DELETE", "/examples", {"intent": "faq/shipping_fee", "text": "从来没有这句话"}),
    ("POST", "/faq", b"{]"),
    ("POST", "/faq", {"key": "new_thing", "title": "新问题？", "examples": ["只有一句问法"], "answers": ["好"]}),
    ("POST", "/faq", {"key": "new_thing", "title": "新问题？", "examples": "不是列表吗", "answers": 3}),
    ("POST", "/faq", {"key": "new_thing", "title": "", "examples": ["第一种问法", "第二种问法"], "answers": ["好"]}),
    ("POST", "/faq", {"key": "new_thing", "title": "新问题？", "examples": ["第一种问法", "第二种问法"], "answers": []}),
    ("PUT", "/answers/faq/shipping_fee", b"[[["),
    ("PUT", "/answers/faq/shipping_fee", {"answers": []}),
    ("PUT", "/answers/faq/shipping_fee", {"answers": ["好", 5]}),
    ("PUT", "/answers/greet", {"answers": ["好"]}),
    ("PUT", "/answers/faq/no_such_key", {"answers": ["好"]}),
    ("POST", "/preview", b"nope"),
    ("POST", "/preview", {"text": ""}),
    ("POST", "/segment", {"text": 5}),
    ("POST", "/check", b"{'single': 'quotes'}"),
    ("POST", "/check", {"intent": "faq/shipping_fee", "text": ""}),
]


@pytest.mark.parametrize("method, path, body", BAD, ids=[f"{n}-{m} {p}" for n, (m, p, _) in enumerate(BAD)])
def test_bad_input_is_400_in_chinese_and_writes_nothing(console, ops, method, path, body):
    before = head(console.repo)
    if isinstance(body, bytes):
        answer = ops.request(method, url(console, path), data=body, headers={"Content-Type": "application/json"})
    else:
        answer = ops.request(method, url(console, path), json=body)
    assert answer.status_code == 400, answer.text
    assert CJK.search(answer.json()["error"]), answer.json()
    assert head(console.repo) == before and status(console.repo) == ""
