"""bot.console.nlu_data on temporary copies of the real training data."""
from __future__ import annotations

import difflib
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml

from bot.console import nlu_data
from bot.console.nlu_data import (
    NEAR_THRESHOLD,
    DuplicateExample,
    LossySave,
    NluData,
    NluDataError,
    annotate,
    parse_example,
    similarity,
)

REPO = Path(__file__).resolve().parents[2]
FAQ_NLU = "data/nlu/faq.yml"
FAQ_RESPONSES = "data/responses/faq.yml"
TITLES = "actions/faq/titles.yml"


def copy_tree(target: Path) -> Path:
    shutil.copytree(REPO / "data", target / "data")
    shutil.copy(REPO / "domain.yml", target / "domain.yml")
    (target / "actions" / "faq").mkdir(parents=True)
    shutil.copy(REPO / TITLES, target / TITLES)
    shutil.copytree(REPO / "personas", target / "personas")
    return target


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_tree(tmp_path)


@pytest.fixture
def data(root: Path) -> NluData:
    return NluData(root)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Tuple[Path, NluData]:
    """One copy for the tests that only read or expect a refusal (each checks
    that nothing was written): loading the data is the slow part."""
    root = copy_tree(tmp_path_factory.mktemp("shared"))
    return root, NluData(root)


def read(root: Path, rel: str) -> str:
    with (root / rel).open(encoding="utf-8", newline="") as handle:
        return handle.read()


def line_diff(before: str, after: str) -> Tuple[List[str], List[str]]:
    """(removed lines, added lines) of a line diff."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def snapshot_all(root: Path) -> Dict[str, str]:
    return {str(p.relative_to(root)): read(root, str(p.relative_to(root)))
            for p in sorted(root.rglob("*")) if p.is_file()}


def texts(data: NluData, intent: str) -> List[str]:
    return [e["text"] for e in data.examples(intent)]


# --------------------------------------------------------------------------- reading


def test_intents_sum_examples_over_files(shared) -> None:
    root, data = shared
    by_name = {i["name"]: i for i in data.intents()}
    shipping = by_name["faq/shipping_time"]
    assert shipping["retrieval_intent"] == "faq" and shipping["key"] == "shipping_time"
    assert shipping["title"] == "下单后多久发货？"
    assert {FAQ_NLU, "data/nlu/colloquial_faq.yml", "data/nlu/dialect.yml"} <= set(shipping["files"])
    # the count is every "- " line of every faq/shipping_time block in every file
    expected = 0
    for path in (root / "data" / "nlu").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if item.get("intent") == "faq/shipping_time":
                expected += sum(1 for line in item["examples"].splitlines() if line.startswith("-"))
    assert shipping["count"] == expected > 30
    assert by_name["greet"]["retrieval_intent"] is None and by_name["greet"]["key"] is None
    assert by_name["chitchat/ask_name"]["retrieval_intent"] == "chitchat"
    assert "faq" not in by_name and "chitchat" not in by_name


def test_examples_strip_annotations_and_give_entity_offsets(shared) -> None:
    _, data = shared
    example = next(e for e in data.examples("inform_skin_type") if e["text"].startswith("我是[干皮]"))
    assert example["plain"] == "我是干皮"
    assert example["file"] == "data/nlu/capabilities.yml"
    assert example["entities"] == [{"start": 2, "end": 4, "value": "dry", "entity": "skin_type"}]
    assert example["plain"][2:4] == "干皮"


def test_entity_parsing_agrees_with_rasa_on_all_examples(shared) -> None:
    _, data = shared
    entities_parser = pytest.importorskip("rasa.shared.nlu.training_data.entities_parser")
    checked = 0
    for intent in data.intents():
        for example in data.examples(intent["name"]):
            expected = [{k: e[k] for k in ("start", "end", "value", "entity")}
                        for e in entities_parser.find_entities_in_training_example(example["text"])]
            assert example["entities"] == expected, example["text"]
            assert example["plain"] == entities_parser.replace_entities(example["text"])
            checked += 1
    assert checked > 5000


# --------------------------------------------------------------------------- round trip


def _editable_nlu_files() -> List[str]:
    return sorted(f"data/nlu/{p.name}" for p in (REPO / "data" / "nlu").glob("*.yml")
                  if "GENERATED" not in p.read_text(encoding="utf-8")[:500])


@pytest.mark.parametrize("rel", _editable_nlu_files())
def test_adding_to_any_file_changes_exactly_one_line(data: NluData, root: Path, rel: str) -> None:
    first_intent = yaml.safe_load(read(root, rel))["nlu"][0]["intent"]
    before = snapshot_all(root)
    changed = data.add_example(first_intent, "控制台测试例句零零七", file=rel, force=True)
    assert changed == [rel]
    removed, added = line_diff(before[rel], read(root, rel))
    assert removed == [] and [line.strip() for line in added] == ["- 控制台测试例句零零七"]
    after = snapshot_all(root)
    assert {k for k in after if after[k] != before[k]} == {rel}


def test_add_keeps_comments_order_and_places_line_in_the_block(data: NluData, root: Path) -> None:
    before = read(root, FAQ_NLU)
    data.add_example("faq/shipping_fee", "我在海南要不要加邮费")
    after = read(root, FAQ_NLU)
    assert after.splitlines()[:8] == before.splitlines()[:8]            # header comments
    assert [l for l in after.splitlines() if l.lstrip().startswith("#")] == \
        [l for l in before.splitlines() if l.lstrip().startswith("#")]
    assert after.endswith("\n") and not after.endswith("\n\n")
    old_fee = yaml.safe_load(before)["nlu"]
    new_fee = yaml.safe_load(after)["nlu"]
    assert [i["intent"] for i in new_fee] == [i["intent"] for i in old_fee]
    block = next(i for i in new_fee if i["intent"] == "faq/shipping_fee")["examples"].splitlines()
    old_block = next(i for i in old_fee if i["intent"] == "faq/shipping_fee")["examples"].splitlines()
    assert block == old_block + ["- 我在海南要不要加邮费"]
    assert "我在海南要不要加邮费" in texts(NluData(root), "faq/shipping_fee")


def test_target_file_rule(data: NluData, root: Path) -> None:
    assert data.add_example("faq/invoice", "发票抬头能写学校吗") == [FAQ_NLU]
    assert data.add_example("chitchat/tell_joke", "来个冷笑话听听呗") == ["data/nlu/chitchat.yml"]
    assert data.add_example("greet", "哈喽哈喽在不在") == ["data/nlu/intents.yml"]
    # not in intents.yml: the file most dedicated to it (largest share of its examples)
    assert data.add_example("out_of_scope", "帮我查一下明天的航班") == ["data/nlu/out_of_scope.yml"]
    assert data.add_example("inform_skin_type", "我算是[干皮](skin_type)吧") == ["data/nlu/capabilities.yml"]


def test_new_block_at_end_of_an_explicit_file(data: NluData, root: Path) -> None:
    rel = "data/nlu/near_misses.yml"
    before = read(root, rel)
    assert "intent: thanks" not in before
    assert data.add_example("thanks", "太感谢你啦小助手", file=rel) == [rel]
    after = read(root, rel)
    removed, added = line_diff(before, after)
    assert removed == []
    assert added == ["", "- intent: thanks", "  examples: |", "    - 太感谢你啦小助手"]
    assert after.startswith(before)            # appended at the end, nothing else moved
    assert "太感谢你啦小助手" in texts(NluData(root), "thanks")


def test_trailing_newline_and_crlf_are_kept(data: NluData, root: Path) -> None:
    rel = "data/nlu/chitchat.yml"
    (root / rel).write_bytes(read(root, rel).rstrip("\n").encode("utf-8"))
    bad = "data/nlu/intents.yml"
    (root / bad).write_bytes(read(root, bad).replace("\n", "\r\n").encode("utf-8"))
    data.add_example("chitchat/tell_joke", "讲个段子给我听")
    text = read(root, rel)
    assert not text.endswith("\n") and text.endswith("- 讲个段子给我听")
    before = read(root, bad)
    data.add_example("greet", "哈喽哈喽在不在")
    after = read(root, bad)
    assert "\n" not in after.replace("\r\n", "")
    assert line_diff(before, after) == ([], ["    - 哈喽哈喽在不在"])


# --------------------------------------------------------------------------- edit and delete


def test_edit_changes_only_that_line(data: NluData, root: Path) -> None:
    before = read(root, FAQ_NLU)
    assert data.edit_example("faq/shipping_time", "发货快不快", "你们发货快不快呀") == [FAQ_NLU]
    after = read(root, FAQ_NLU)
    assert line_diff(before, after) == (["    - 发货快不快"], ["    - 你们发货快不快呀"])
    assert before.splitlines().index("    - 发货快不快") == after.splitlines().index("    - 你们发货快不快呀")
    assert "你们发货快不快呀" in texts(data, "faq/shipping_time")
    assert "发货快不快" not in texts(data, "faq/shipping_time")


def test_edit_example_with_annotation(data: NluData, root: Path) -> None:
    old = '[油皮]{"entity": "skin_type", "value": "oily"}用什么好'
    assert old in texts(data, "recommend_product")
    data.edit_example("recommend_product", old, "[大油皮](skin_type:oily)用什么好呀")
    example = next(e for e in data.examples("recommend_product") if e["plain"] == "大油皮用什么好呀")
    assert example["entities"] == [{"start": 0, "end": 3, "value": "oily", "entity": "skin_type"}]


def test_delete_removes_the_line(data: NluData, root: Path) -> None:
    before = read(root, FAQ_NLU)
    count = {i["name"]: i["count"] for i in data.intents()}["faq/shipping_time"]
    assert data.delete_example("faq/shipping_time", "发货快不快") == [FAQ_NLU]
    assert line_diff(before, read(root, FAQ_NLU)) == (["    - 发货快不快"], [])
    assert {i["name"]: i["count"] for i in NluData(root).intents()}["faq/shipping_time"] == count - 1
    with pytest.raises(NluDataError, match="没有这条例句"):
        data.delete_example("faq/shipping_time", "发货快不快")


def test_delete_the_only_example_of_a_block_removes_the_block(data: NluData, root: Path) -> None:
    rel = "data/nlu/typo_brand.yml"
    before = read(root, rel)
    assert data.delete_example("faq/samples", "抖音直播间说送小样 小程序下单也送吗", file=rel) == [rel]
    after = read(root, rel)
    removed, added = line_diff(before, after)
    assert added == []
    assert [l.strip() for l in removed if l.strip()] == [
        "- intent: faq/samples", "examples: |", "- 抖音直播间说送小样 小程序下单也送吗"]
    assert [i["intent"] for i in yaml.safe_load(after)["nlu"]].count("faq/samples") == \
        [i["intent"] for i in yaml.safe_load(before)["nlu"]].count("faq/samples") - 1
    assert "\n\n\n" not in after


def test_generated_file_is_never_edited(data: NluData, root: Path) -> None:
    before = snapshot_all(root)
    generated_only = "修护精华是什么成分"
    assert next(e for e in data.examples("faq/ingredients") if e["text"] == generated_only)["editable"] is False
    with pytest.raises(NluDataError, match="自动生成"):
        data.delete_example("faq/ingredients", generated_only)
    with pytest.raises(NluDataError, match="自动生成"):
        data.add_example("checkin", "签个到吧今天", file="data/nlu/brand.yml")
    assert snapshot_all(root) == before


def test_delete_keeps_a_minimum(data: NluData) -> None:
    data.create_faq("gift_wrap", "可以礼品包装吗？", ["能帮我包装成礼物吗", "有没有礼盒包装"], ["可以的{emoji_gift}"])
    with pytest.raises(NluDataError, match="至少要保留"):
        data.delete_example("faq/gift_wrap", "有没有礼盒包装")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("text, message", [
    ("", "不能为空"),
    ("   ", "不能为空"),
    ("第一行\n第二行", "一行"),
    ("第一行\u2028第二行", "一行"),
    ("好" * 201, "太长"),
    ("我是[油皮(skin_type)", "方括号"),
    ("我是油皮](skin_type)", "方括号"),
    ("我是[油皮](hair_type)", "hair_type"),
    ('我是[油皮]{"entity": "skin_type", "value": }', "写法不对"),
    ("带控制字符\x07的句子", "控制字符"),
])
def test_bad_examples_are_refused(shared, text: str, message: str) -> None:
    root, data = shared
    before = snapshot_all(root)
    with pytest.raises(NluDataError, match=message):
        data.add_example("recommend_product", text)
    assert snapshot_all(root) == before


def test_unknown_intent_is_refused(shared) -> None:
    root, data = shared
    before = snapshot_all(root)
    with pytest.raises(NluDataError, match="新建 FAQ"):
        data.add_example("faq/no_such_key", "这个是什么问题")
    with pytest.raises(NluDataError, match="还没有任何例句"):
        data.add_example("input_empty", "空的")
    assert snapshot_all(root) == before


# --------------------------------------------------------------------------- save guard


def test_save_that_would_drop_an_example_is_refused(data: NluData, root: Path, monkeypatch) -> None:
    before = snapshot_all(root)
    real_render = NluData._render

    def drop_a_line(self: NluData, doc) -> str:
        lines = real_render(self, doc).splitlines(keepends=True)
        victim = next(n for n, line in enumerate(lines) if line.strip() == "- 多久发货")
        return "".join(lines[:victim] + lines[victim + 1:])

    monkeypatch.setattr(NluData, "_render", drop_a_line)
    with pytest.raises(LossySave, match="多久发货"):
        data.add_example("faq/shipping_time", "下了单多久才发货")
    assert snapshot_all(root) == before
    assert not list(root.rglob("*.tmp"))
    # the in-memory data forgot the refused edit
    monkeypatch.setattr(NluData, "_render", real_render)
    assert "下了单多久才发货" not in texts(data, "faq/shipping_time")
    assert "多久发货" in texts(data, "faq/shipping_time")


def test_save_that_would_drop_a_comment_or_break_yaml_is_refused(data: NluData, root: Path, monkeypatch) -> None:
    before = snapshot_all(root)
    real_render = NluData._render
    monkeypatch.setattr(NluData, "_render", lambda self, doc: real_render(self, doc).replace(
        "# Answers live in data/responses/faq.yml; numbers live in data/brand/facts.yml.\n", ""))
    with pytest.raises(LossySave, match="注释"):
        data.add_example("faq/shipping_time", "下了单多久才发货")
    monkeypatch.setattr(NluData, "_render", lambda self, doc: real_render(self, doc) + "nlu: [\n")
    with pytest.raises(LossySave, match="YAML"):
        data.add_example("faq/shipping_time", "下了单多久才发货")
    monkeypatch.setattr(NluData, "_render", lambda self, doc: real_render(self, doc).replace(
        "- 多久发货\n", "- 多久发货呀\n"))
    with pytest.raises(LossySave):
        data.add_example("faq/shipping_time", "下了单多久才发货")
    assert snapshot_all(root) == before


def test_external_change_is_picked_up(data: NluData, root: Path) -> None:
    rel = "data/nlu/chitchat.yml"
    text = read(root, rel).replace("examples: |\n", "examples: |\n    - 外部加的一句\n", 1)
    (root / rel).write_text(text, encoding="utf-8")
    assert "外部加的一句" in texts(data, "chitchat/ask_name")
    data.add_example("chitchat/ask_name", "你的名字是什么呀")
    assert "外部加的一句" in read(root, rel)


# --------------------------------------------------------------------------- conflicts


def test_conflicts_exact_and_near(shared) -> None:
    _, data = shared
    exact = data.conflicts("faq/shipping_fee", " 多久发货？？😂 ")
    assert {"kind": "duplicate", "intent": "faq/shipping_time", "text": "多久发货", "score": 1.0} in exact
    near = data.conflicts("faq/shipping_fee", "多久发货呀")
    hit = next(c for c in near if c["text"] == "多久发货")
    assert hit["kind"] == "near" and hit["intent"] == "faq/shipping_time" and hit["score"] >= NEAR_THRESHOLD
    assert all(c["intent"] != "faq/shipping_fee" for c in near)      # only other intents
    assert data.conflicts("faq/shipping_fee", "今天天气真不错适合出去玩") == []
    assert similarity("多久发货", "多久到货") < NEAR_THRESHOLD


def test_exact_duplicate_of_another_intent_needs_force(data: NluData, root: Path) -> None:
    before = read(root, FAQ_NLU)
    with pytest.raises(DuplicateExample, match="这条例句已经在 faq/shipping_time 里了") as caught:
        data.add_example("faq/shipping_fee", "多久发货！")
    assert caught.value.conflicts[0]["intent"] == "faq/shipping_time"
    assert read(root, FAQ_NLU) == before
    saved = data.add_example("faq/shipping_fee", "多久发货！", force=True)
    assert saved == [FAQ_NLU] and saved.warnings[0]["kind"] == "duplicate"


def test_near_duplicate_is_a_warning(data: NluData) -> None:
    saved = data.add_example("faq/shipping_fee", "多久发货呀")
    assert saved == [FAQ_NLU]
    assert any(w["kind"] == "near" and w["text"] == "多久发货" for w in saved.warnings)


def test_duplicate_in_the_same_intent_is_always_refused(data: NluData, root: Path) -> None:
    before = snapshot_all(root)
    for text in ("多久发货", "多久 发货~", "[多久](skin_type)发货"):
        with pytest.raises(DuplicateExample, match="faq/shipping_time"):
            data.add_example("faq/shipping_time", text, force=True)
    with pytest.raises(DuplicateExample):
        data.edit_example("faq/shipping_time", "发货快不快", "多久发货？", force=True)
    assert snapshot_all(root) == before
    # an edit that keeps the wording is not a duplicate of itself
    data.edit_example("faq/shipping_time", "发货快不快", "发货快不快？")


def test_conflict_index_follows_edits(data: NluData) -> None:
    assert data.conflicts("faq/invoice", "那个小绿瓶到底好不好用呢") == []
    data.add_example("recommend_product", "那个小绿瓶到底好不好用呢")
    assert data.conflicts("faq/invoice", "那个小绿瓶到底好不好用呢")[0]["kind"] == "duplicate"
    data.edit_example("recommend_product", "那个小绿瓶到底好不好用呢", "小绿瓶值得买吗")
    assert data.conflicts("faq/invoice", "那个小绿瓶到底好不好用呢") == []


# --------------------------------------------------------------------------- FAQ keys and answers


def test_create_faq_end_to_end(data: NluData, root: Path) -> None:
    before = snapshot_all(root)
    saved = data.create_faq(
        "gift_wrap", "可以礼品包装吗？",
        ["能帮我包装成礼物吗", "有没有礼盒包装", "送人的话可以包得好看点吗"],
        ["可以的{emoji_gift} 下单时备注「礼盒」，{brand}会帮{you}包好～", "{you}结算时勾选礼盒包装就行{emoji_happy}"],
    )
    assert saved == sorted([FAQ_NLU, FAQ_RESPONSES, TITLES])
    after = snapshot_all(root)
    assert {k for k in after if after[k] != before[k]} == set(saved)
    for rel in saved:
        assert after[rel].startswith(before[rel])            # only appended
        yaml.safe_load(after[rel])
    assert line_diff(before[TITLES], after[TITLES]) == ([], ["gift_wrap: 可以礼品包装吗？"])

    fresh = NluData(root)
    intent = {i["name"]: i for i in fresh.intents()}["faq/gift_wrap"]
    assert intent["count"] == 3 and intent["files"] == [FAQ_NLU] and intent["title"] == "可以礼品包装吗？"
    assert texts(fresh, "faq/gift_wrap") == ["能帮我包装成礼物吗", "有没有礼盒包装", "送人的话可以包得好看点吗"]
    assert fresh.answers("utter_faq/gift_wrap")[1] == "{you}结算时勾选礼盒包装就行{emoji_happy}"
    assert fresh.titles()["gift_wrap"] == "可以礼品包装吗？"
    responses = yaml.safe_load(after[FAQ_RESPONSES])["responses"]
    assert responses["utter_faq/gift_wrap"][0]["text"].startswith("可以的{emoji_gift}")
    assert list(responses)[-1] == "utter_faq/gift_wrap"
    assert "\n\n  utter_faq/gift_wrap:\n" in after[FAQ_RESPONSES]   # same blank-line style as the others


def test_create_faq_is_read_by_rasa(data: NluData, root: Path) -> None:
    rasa_yaml = pytest.importorskip("rasa.shared.nlu.training_data.formats.rasa_yaml")
    data.create_faq("gift_wrap", "可以礼品包装吗？", ["能帮我包装成礼物吗", "有没有礼盒包装"], ["可以的"])
    training = rasa_yaml.RasaYAMLReader().reads(read(root, FAQ_NLU))
    texts_ = [m.get("text") for m in training.training_examples if m.get("intent") == "faq"
              and m.get("intent_response_key") == "faq/gift_wrap"]
    assert texts_ == ["能帮我包装成礼物吗", "有没有礼盒包装"]
    responses = rasa_yaml.RasaYAMLReader().reads(read(root, FAQ_RESPONSES)).responses
    assert responses["utter_faq/gift_wrap"] == [{"text": "可以的"}]


@pytest.mark.parametrize("key, title, examples, answers, message", [
    ("Gift", "标题", ["一句话", "两句话"], ["好的"], "小写字母"),
    ("g", "标题", ["一句话", "两句话"], ["好的"], "小写字母"),
    ("shipping_fee", "标题", ["一句话", "两句话"], ["好的"], "已经存在"),
    ("gift_wrap", "", ["一句话", "两句话"], ["好的"], "标题"),
    ("gift_wrap", "标题", ["只有一句话"], ["好的"], "至少要 2 条"),
    ("gift_wrap", "标题", ["一句话", "一句话！"], ["好的"], "重复"),
    ("gift_wrap", "标题", ["一句话", "两句话"], [], "至少要写一条回答"),
    ("gift_wrap", "标题", ["一句话", "两句话"], ["满{fact:gift_box_fee}元"], "fact:gift_box_fee"),
    ("gift_wrap", "标题", ["一句话", "两句话"], ["{customer_name}你好"], "customer_name"),
    ("gift_wrap", "标题", ["一句话", "两句话"], ["{emoji_rocket}"], "emoji_rocket"),
    ("gift_wrap", "标题", ["一句话", "两句话"], ["少了括号{you"], "大括号"),
    ("gift_wrap", "标题", ["多久发货", "两句话"], ["好的"], "faq/shipping_time"),
])
def test_create_faq_validation(shared, key, title, examples, answers, message) -> None:
    root, data = shared
    before = snapshot_all(root)
    with pytest.raises(NluDataError, match=message):
        data.create_faq(key, title, examples, answers)
    assert snapshot_all(root) == before


def test_set_answers_changes_only_the_edited_lines(data: NluData, root: Path) -> None:
    before = read(root, FAQ_RESPONSES)
    old = data.answers("utter_faq/shipping_time")
    assert data.set_answers("utter_faq/shipping_time", [old[0], "{you}放心，付款后{fact:ship_within_hours}小时内发出～"]) \
        == [FAQ_RESPONSES]
    middle = read(root, FAQ_RESPONSES)
    removed, added = line_diff(before, middle)
    assert len(removed) == 1 and old[1] in removed[0]
    assert added == ['    - text: "{you}放心，付款后{fact:ship_within_hours}小时内发出～"']
    # one more answer: inserted before the blank line that separates the next response
    data.set_answers("faq/shipping_time", data.answers("faq/shipping_time") + ["第三种说法{emoji_happy}"])
    after = read(root, FAQ_RESPONSES)
    assert line_diff(middle, after) == ([], ['    - text: "第三种说法{emoji_happy}"'])
    assert '- text: "第三种说法{emoji_happy}"\n\n  utter_faq/shipping_carrier:' in after
    # fewer answers: the blank line stays
    data.set_answers("faq/shipping_time", [old[0]])
    final = read(root, FAQ_RESPONSES)
    assert yaml.safe_load(final)["responses"]["utter_faq/shipping_time"] == [{"text": old[0]}]
    assert f'{old[0]}"\n\n  utter_faq/shipping_carrier:' in final
    assert line_diff(before, final)[1] == []


def test_set_answers_validates_placeholders(shared) -> None:
    root, data = shared
    before = read(root, FAQ_RESPONSES)
    with pytest.raises(NluDataError, match="fact:no_such_fact"):
        data.set_answers("utter_faq/shipping_fee", ["运费 {fact:no_such_fact} 元"])
    with pytest.raises(NluDataError, match="没有找到回复"):
        data.set_answers("utter_faq/no_such_key", ["好的"])
    assert read(root, FAQ_RESPONSES) == before


# --------------------------------------------------------------------------- annotation and segmentation


def test_annotate_builds_markup_from_spans(data: NluData) -> None:
    text = "我是油皮想要控油的"
    marked = annotate(text, [{"start": 2, "end": 4, "entity": "skin_type"}])
    assert marked == "我是[油皮](skin_type)想要控油的"
    marked = annotate(text, [{"start": 2, "end": 4, "entity": "skin_type", "value": "oily"}])
    assert marked == '我是[油皮]{"entity": "skin_type", "value": "oily"}想要控油的'
    plain, entities = parse_example(marked)
    assert plain == text
    assert entities == [{"start": 2, "end": 4, "value": "oily", "entity": "skin_type"}]
    data.add_example("inform_skin_type", marked)
    added = next(e for e in data.examples("inform_skin_type") if e["text"] == marked)
    assert added["entities"] == entities and added["plain"] == text


@pytest.mark.parametrize("spans, message", [
    ([{"start": 2, "end": 4, "entity": "skin_type"}, {"start": 3, "end": 5, "entity": "skin_type"}], "重叠"),
    ([{"start": 5, "end": 40, "entity": "skin_type"}], "位置不对"),
    ([{"start": 2, "end": 2, "entity": "skin_type"}], "位置不对"),
    ([{"start": 2, "end": 4, "entity": ""}], "实体类型"),
])
def test_annotate_refuses_bad_spans(spans, message) -> None:
    with pytest.raises(NluDataError, match=message):
        annotate("我是油皮想要控油的", spans)


def test_segment_keeps_brand_words_whole(data: NluData, root: Path) -> None:
    words = [line.split()[0] for line in (root / "data" / "jieba" / "brand.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    assert "春日焕肤大转盘" in words
    assert "春日焕肤大转盘" in data.segment("我想玩春日焕肤大转盘")
    assert "小绿瓶修护精华" in data.segment("[小绿瓶修护精华](skin_type)怎么用")
    jieba = pytest.importorskip("jieba")
    jieba.dt.initialize()
    assert "春日焕肤大转盘" not in jieba.dt.FREQ          # the global tokenizer is untouched
    loads = nlu_data._tokenizer.cache_info().misses
    data.segment("再来一次")
    assert nlu_data._tokenizer.cache_info().misses == loads   # the dictionary is loaded once
