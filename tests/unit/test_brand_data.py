"""Brand facts and persona editing for the ops console (bot/console/brand_data.py).

Every test works on a tmp copy of the brand files; the git diff of an edit must
show only the line the edit meant to change.
"""
from __future__ import annotations

import copy
import difflib
import os
import shutil
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

from bot import persona as persona_mod
from bot.console import brand_data
from bot.console.brand_data import BrandData, BrandDataError, LossySave

ROOT = Path(__file__).resolve().parents[2]
FACTS = "data/brand/facts.yml"


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "data" / "brand").mkdir(parents=True)
    shutil.copy(ROOT / FACTS, tmp_path / FACTS)
    shutil.copytree(ROOT / "data" / "responses", tmp_path / "data" / "responses")
    shutil.copytree(ROOT / "personas", tmp_path / "personas")
    shutil.copy(ROOT / "domain.yml", tmp_path / "domain.yml")
    yield tmp_path
    persona_mod.clear_caches()


@pytest.fixture()
def bd(root: Path) -> BrandData:
    return BrandData(root)


def read(root: Path, rel: str) -> str:
    return (root / rel).read_text(encoding="utf-8")


def line_diff(before: str, after: str) -> Tuple[List[str], List[str]]:
    """(removed lines, added lines)."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def corrupt(text: str, line: str) -> str:
    """`text` without `line`, once the edit is in it (the unchanged round trip stays intact)."""
    return text.replace(line, "") if "free_shipping_threshold: 129" in text else text


# --------------------------------------------------------------------------- facts

def test_facts_are_listed_in_file_order_with_comments_and_sections(bd, root):
    rows = bd.facts()
    plain = yaml.safe_load(read(root, FACTS))
    assert [r["key"] for r in rows] == list(plain)
    assert all(r["value"] == plain[r["key"]] for r in rows)
    by_key = {r["key"]: r for r in rows}
    assert by_key["brand_name"]["section"] == "Brand & channels"
    assert by_key["free_shipping_threshold"]["section"] == "Shipping"
    assert by_key["exchange_window_days"]["comment"] == "quality-problem exchange, counted from sign-off"
    assert "comment" not in by_key["free_shipping_threshold"]


def test_set_fact_changes_exactly_its_line(bd, root):
    before = read(root, FACTS)
    assert bd.set_fact("free_shipping_threshold", "129") == [FACTS]
    after = read(root, FACTS)
    assert line_diff(before, after) == (["free_shipping_threshold: 99"], ["free_shipping_threshold: 129"])
    assert yaml.safe_load(after)["free_shipping_threshold"] == 129  # a number stays a number


def test_set_fact_keeps_quoting_and_the_line_comment(bd, root):
    before = read(root, FACTS)
    bd.set_fact("cs_hours", "每天 9:00-21:00")
    bd.set_fact("exchange_window_days", 30)
    removed, added = line_diff(before, read(root, FACTS))
    assert removed == ['cs_hours: "每天 9:00-22:00"',
                       "exchange_window_days: 15   # quality-problem exchange, counted from sign-off"]
    assert added[0] == 'cs_hours: "每天 9:00-21:00"'
    assert added[1].startswith("exchange_window_days: 30 ") and added[1].endswith("# quality-problem exchange, counted from sign-off")


def test_a_text_the_bot_would_misread_is_quoted(bd, root):
    bd.set_fact("cod_supported", "on")  # YAML 1.1 (PyYAML, the bot's loader) reads a bare `on` as True
    assert yaml.safe_load(read(root, FACTS))["cod_supported"] == "on"
    bd.set_fact("restock_typical_days", "30")  # was the text "7-15": stays a text
    assert yaml.safe_load(read(root, FACTS))["restock_typical_days"] == "30"


def test_setting_the_same_value_writes_nothing(bd, root):
    stat = os.stat(root / FACTS)
    assert bd.set_fact("free_shipping_threshold", 99) == []
    assert bd.set_fact("free_shipping_threshold", "99") == []
    assert os.stat(root / FACTS).st_mtime_ns == stat.st_mtime_ns


@pytest.mark.parametrize("value", [["a"], {"a": 1}, None, True, "", "  ", "两行\n文字", "满{x}元", float("nan")])
def test_values_must_stay_plain_scalars(bd, root, value):
    before = read(root, FACTS)
    with pytest.raises(BrandDataError) as err:
        bd.set_fact("free_shipping_threshold", value)
    assert "品牌信息" in str(err.value)
    assert read(root, FACTS) == before


def test_unknown_and_duplicate_keys(bd):
    with pytest.raises(BrandDataError, match="没有品牌信息"):
        bd.set_fact("nope", 1)
    with pytest.raises(BrandDataError, match="已经存在"):
        bd.add_fact("brand_name", "x")
    with pytest.raises(BrandDataError, match="键名"):
        bd.add_fact("Bad-Key", "x")


def test_add_fact_adds_one_line_inside_its_section(bd, root):
    before = read(root, FACTS)
    assert bd.add_fact("invoice_email_note", "电子发票发到预留邮箱", after="invoice_company_note") == [FACTS]
    assert bd.add_fact("gift_wrap_fee", "5") == [FACTS]  # at the end, as a number
    after = read(root, FACTS)
    assert line_diff(before, after) == ([], ["invoice_email_note: 电子发票发到预留邮箱", "gift_wrap_fee: 5"])
    lines = after.splitlines()
    assert lines.index("invoice_email_note: 电子发票发到预留邮箱") < lines.index("# --- Authenticity ---")
    assert lines[-1] == "gift_wrap_fee: 5"
    row = {r["key"]: r for r in bd.facts()}["invoice_email_note"]
    assert row["section"] == "Invoice"


def test_add_fact_at_the_end_of_a_section_lands_above_the_next_heading(bd, root):
    before = read(root, FACTS)
    bd.add_fact("allergy_hotline", "400-000-0000", after="allergy_return_rule")
    after = read(root, FACTS).splitlines()
    assert line_diff(before, "\n".join(after) + "\n") == ([], ["allergy_hotline: 400-000-0000"])
    assert after.index("allergy_hotline: 400-000-0000") < after.index("# --- Invoice ---")


def test_delete_an_unused_fact_removes_its_line_and_keeps_the_next_heading(bd, root):
    before = read(root, FACTS)
    used = bd.fact_usages("cs_offline_reply")
    assert used == []
    assert bd.delete_fact("cs_offline_reply") == [FACTS]  # the last fact above "# --- Shipping ---"
    removed, added = line_diff(before, read(root, FACTS))
    assert removed == ["cs_offline_reply: 非客服时间的留言，会在次日上班后 2 小时内回复"] and added == []
    assert "# --- Shipping ---" in read(root, FACTS)


def test_delete_or_rename_a_used_fact_is_refused_with_where_it_is_used(bd, root):
    before = read(root, FACTS)
    with pytest.raises(BrandDataError) as err:
        bd.delete_fact("free_shipping_threshold")
    message = str(err.value)
    assert "不能删除" in message and "data/responses/faq.yml" in message and "utter_faq/shipping_fee" in message
    with pytest.raises(BrandDataError, match="不能改名") as err:
        bd.rename_fact("sf_carrier", "sf_express")
    assert "utter_faq/shipping_carrier" in str(err.value)
    with pytest.raises(BrandDataError, match="不能删除") as err:
        bd.delete_fact("brand_name")  # {brand} and the code use it
    assert "{brand}" in str(err.value)
    assert read(root, FACTS) == before


def test_usages_include_personas_and_the_domain(bd, root):
    persona_file = root / "personas" / "qiqi.yml"
    text = persona_file.read_text(encoding="utf-8").replace("今天也记得好好喝水。", "今天也记得好好喝水，{fact:cs_offline_reply}")
    persona_file.write_text(text, encoding="utf-8")
    assert bd.fact_usages("cs_offline_reply") == [{"file": "personas/qiqi.yml", "where": "signature_phrases[2]"}]
    with pytest.raises(BrandDataError, match="personas/qiqi.yml"):
        bd.delete_fact("cs_offline_reply")
    assert any(u["file"] == "domain.yml" for u in bd.fact_usages("brand_name"))


def test_rename_an_unused_fact_in_place(bd, root):
    path = root / FACTS
    path.write_text(read(root, FACTS).replace("mini_program: 青禾官方商城\n", "mini_program: 青禾官方商城   # WeChat\n"),
                    encoding="utf-8")
    before = read(root, FACTS)
    assert bd.rename_fact("mini_program", "mini_program_name") == [FACTS]
    removed, added = line_diff(before, read(root, FACTS))
    assert removed == ["mini_program: 青禾官方商城   # WeChat"]
    assert len(added) == 1 and added[0].startswith("mini_program_name: 青禾官方商城 ") and added[0].endswith(" # WeChat")
    keys = [r["key"] for r in bd.facts()]
    assert keys.index("mini_program_name") == keys.index("official_account") + 1


def test_a_save_that_would_lose_another_key_is_refused(bd, root, monkeypatch):
    before = read(root, FACTS)
    real_dump = brand_data._dump
    monkeypatch.setattr(brand_data, "_dump", lambda rt, doc: corrupt(real_dump(rt, doc), "standard_postage: 8\n"))
    with pytest.raises(LossySave, match="丢失"):
        bd.set_fact("free_shipping_threshold", 129)
    assert read(root, FACTS) == before


def test_a_save_that_would_lose_a_comment_is_refused(bd, root, monkeypatch):
    before = read(root, FACTS)
    real_dump = brand_data._dump
    monkeypatch.setattr(brand_data, "_dump", lambda rt, doc: corrupt(real_dump(rt, doc), "# --- Points ---\n"))
    with pytest.raises(LossySave, match="注释"):
        bd.set_fact("free_shipping_threshold", 129)
    assert read(root, FACTS) == before


def test_writes_are_atomic(bd, root, monkeypatch):
    before = read(root, FACTS)

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(brand_data.os, "replace", fail)
    with pytest.raises(OSError):
        bd.set_fact("free_shipping_threshold", 129)
    assert read(root, FACTS) == before
    assert sorted(p.name for p in (root / "data" / "brand").iterdir()) == ["facts.yml"]  # no temp file left


def test_a_file_whose_layout_cannot_be_kept_is_not_written(bd, root):
    path = root / FACTS
    path.write_text("brand_name:    青禾\nfree_shipping_threshold: 99\n", encoding="utf-8")  # odd spacing
    with pytest.raises(BrandDataError, match="排版"):
        bd.set_fact("free_shipping_threshold", 129)
    assert path.read_text(encoding="utf-8").startswith("brand_name:    青禾")


def test_a_write_reaches_the_bot_loader_at_once(bd, root):
    path = str(root / FACTS)
    assert persona_mod.load_facts(path)["free_shipping_threshold"] == 99
    bd.set_fact("free_shipping_threshold", 129)
    assert persona_mod.load_facts(path)["free_shipping_threshold"] == 129  # recheck(): no 1 s wait in this process


# --------------------------------------------------------------------------- personas

def test_personas_list_ids_names_and_fields(bd):
    rows = {p["id"]: p for p in bd.personas()}
    assert rows["qiqi"]["name"] == "七七" and rows["xiaowanzi"]["name"] == "小完子"
    assert rows["qiqi"]["path"] == "personas/qiqi.yml"
    assert {"tone", "signature_phrases", "system_texts", "self_intro"} <= set(rows["qiqi"])
    full = bd.persona("qiqi")
    assert full == yaml.safe_load((ROOT / "personas" / "qiqi.yml").read_text(encoding="utf-8"))
    with pytest.raises(BrandDataError, match="没有人设"):
        bd.persona("nobody")


@pytest.mark.parametrize("persona_id", ["qiqi", "xiaowanzi"])
def test_saving_an_unchanged_persona_writes_nothing(bd, root, persona_id):
    before = read(root, f"personas/{persona_id}.yml")
    assert bd.save_persona(persona_id, bd.persona(persona_id)) == []
    assert read(root, f"personas/{persona_id}.yml") == before


def test_save_persona_changes_only_the_edited_lines(bd, root):
    rel = "personas/xiaowanzi.yml"
    before = read(root, rel)
    data = bd.persona("xiaowanzi")
    data["tone"]["emoji"]["happy"] = "🥳"
    data["system_texts"]["throttled"] = "宝子消息好多呀🥺小完子慢慢看，稍等一下哦！"
    assert bd.save_persona("xiaowanzi", data) == [rel]
    removed, added = line_diff(before, read(root, rel))
    assert removed == ['    happy: "😆"', '  throttled: "宝子消息有点多啦🥺小完子在慢慢看，稍等一下再发哦！"']
    assert added == ['    happy: "🥳"', '  throttled: "宝子消息好多呀🥺小完子慢慢看，稍等一下哦！"']  # emoji as characters, quotes kept
    persona = persona_mod.load_persona("xiaowanzi", root / "personas")
    assert persona.emoji["happy"] == "🥳"


def test_save_persona_keeps_comments_when_lists_and_responses_change(bd, root):
    rel = "personas/qiqi.yml"
    before = read(root, rel)
    data = bd.persona("qiqi")
    data["signature_phrases"].append("累了就早点睡。")
    data["responses"]["utter_thanks"] = [{"text": "不客气～{emoji_happy}"}]
    data["tone"]["you"] = "您"
    bd.save_persona("qiqi", data)
    after = read(root, rel)
    removed, added = line_diff(before, after)
    assert removed == ["  you: 你            # how she addresses the customer"]
    assert added[0].startswith("  you: 您") and added[0].endswith("# how she addresses the customer")
    assert added[1:] == ["  - 累了就早点睡。", "  utter_thanks:", '    - text: "不客气～{emoji_happy}"']
    lines = after.splitlines()  # the phrase joins the list, above the comment that followed it
    assert lines.index("  - 累了就早点睡。") < lines.index(
        "# Texts the channels and the console say themselves (no Rasa turn behind them):")
    # and back: removing them again restores the file
    data["signature_phrases"].pop()
    del data["responses"]["utter_thanks"]
    data["tone"]["you"] = "你"
    bd.save_persona("qiqi", data)
    assert read(root, rel) == before


def test_a_draft_without_id_keeps_the_id_line(bd, root):
    before = read(root, "personas/qiqi.yml")
    data = bd.persona("qiqi")
    del data["id"]
    assert bd.save_persona("qiqi", data) == []
    assert read(root, "personas/qiqi.yml") == before


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(mood="happy"), "不认识的字段「mood」"),
    (lambda d: d.pop("name"), "缺少名字"),
    (lambda d: d.update(name=""), "不能为空"),
    (lambda d: d.update(id="other"), "编号 id"),
    (lambda d: d["tone"].update(you=3), "应该是一段文字"),
    (lambda d: d["tone"].update(voice="x"), "不认识的字段「voice」"),
    (lambda d: d["tone"]["emoji"].update({"Big": "x"}), "表情名"),
    (lambda d: d.update(signature_phrases="一句"), "口头禅"),
    (lambda d: d["signature_phrases"].append("含{slot}的"), "花括号"),
    (lambda d: d["system_texts"].pop("throttled"), "系统话术缺少：throttled"),
    (lambda d: d["system_texts"].update(new_text="x"), "不认识的系统话术：new_text"),
    (lambda d: d["system_texts"].update(handoff_back="{position}号导购"), "{position} 不会被填上"),
    (lambda d: d["system_texts"].update(throttled="满{fact:nope}元"), "不存在的品牌信息 {fact:nope}"),
    (lambda d: d["responses"].update(utter_nope=[{"text": "x"}]), "没有这个回复名"),
    (lambda d: d["responses"].update(utter_greet=[]), "至少一条"),
    (lambda d: d["responses"].update(utter_greet=[{"txt": "x"}]), "要有 text"),
    (lambda d: d["responses"].update(utter_greet=[{"text": "连续{streak}天"}]), "{streak} 不会被填上"),
])
def test_invalid_personas_are_refused_in_chinese(bd, root, edit, message):
    before = read(root, "personas/qiqi.yml")
    data = bd.persona("qiqi")
    edit(data)
    with pytest.raises(BrandDataError) as err:
        bd.save_persona("qiqi", data)
    assert message in str(err.value) and "人设" in str(err.value)
    assert read(root, "personas/qiqi.yml") == before


def test_a_response_may_use_the_slots_of_the_response_it_replaces(bd):
    data = bd.persona("qiqi")
    data["responses"]["utter_greet_member"] = [{"text": "{level}会员{you}好～"}]
    assert bd.validate_persona("qiqi", data).responses["utter_greet_member"][0]["text"] == "{level}会员{you}好～"


# --------------------------------------------------------------------------- preview

def test_preview_is_a_stable_selection_of_real_responses(bd, root):
    first = bd.preview("qiqi", sample=9)
    assert first == bd.preview("qiqi", sample=9)
    assert len(first) == 9
    names = [item["response"] for item in first]
    assert "utter_greet" in names
    assert any(n.startswith("utter_faq/") for n in names)
    assert any(n.startswith("system_texts.") for n in names)
    assert not any(item["changed"] for item in first)
    for item in first:
        assert "{fact:" not in item["text"] and "{persona}" not in item["text"] and "{you}" not in item["text"]
    assert len(bd.preview("qiqi", sample=3)) == 3


def test_preview_renders_with_the_bot_nlg(bd, monkeypatch):
    from bot import nlg

    calls = []
    real = nlg.PersonaNaturalLanguageGenerator.render_persona

    def spy(self, response):
        calls.append(response.get("text"))
        return real(self, response)

    monkeypatch.setattr(nlg.PersonaNaturalLanguageGenerator, "render_persona", spy)
    items = bd.preview("xiaowanzi", sample=5)
    assert calls
    greet = next(i for i in items if i["response"] == "utter_greet")
    assert greet["text"] == bd.persona("xiaowanzi")["responses"]["utter_greet"][0]["text"]


def test_preview_of_a_fact_draft_shows_the_changed_answers_first(bd, root):
    before = read(root, FACTS)
    items = bd.preview("qiqi", facts_override={"free_shipping_threshold": "129"}, sample=4)
    assert items[0]["response"] == "utter_faq/shipping_fee" and items[0]["changed"]
    assert "满129元包邮" in items[0]["text"] and "满99元包邮" in items[0]["before"]
    assert len(items) == 4
    assert read(root, FACTS) == before  # a preview saves nothing


def test_preview_of_a_persona_draft(bd, root):
    before = read(root, "personas/qiqi.yml")
    draft = bd.persona("qiqi")
    draft["tone"]["you"] = "您"
    draft["responses"]["utter_greet"] = [{"text": "您好，我是{persona}{emoji_happy}"}]
    items = bd.preview("qiqi", persona_override=draft, sample=50)
    by_name = {i["response"]: i for i in items}
    assert by_name["utter_greet"]["text"] == "您好，我是七七🙂" and by_name["utter_greet"]["changed"]
    assert "抱歉您" in by_name["system_texts.service_apology"]["text"]
    assert all(i["changed"] for i in items[:5])
    bad = copy.deepcopy(draft)
    bad["system_texts"].pop("throttled")
    with pytest.raises(BrandDataError, match="系统话术缺少"):
        bd.preview("qiqi", persona_override=bad)
    assert read(root, "personas/qiqi.yml") == before


def test_preview_shows_a_changed_signature_phrase(bd):
    draft = bd.persona("qiqi")
    draft["signature_phrases"][1] = "早点休息。"
    items = bd.preview("qiqi", persona_override=draft, sample=3)
    assert items[0] == {"response": "signature_phrases[2]", "text": "早点休息。",
                        "before": "今天也记得好好喝水。", "changed": True}
