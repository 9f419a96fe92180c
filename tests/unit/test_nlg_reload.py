"""Brand facts and personas reach the running bot without a restart or retraining.

bot.persona re-reads a file whose stat changed, looking at most once per
RELOAD_CHECK_INTERVAL_S; a broken file keeps the last good version in service.
The clock is faked here, so nothing sleeps.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from bot import persona as persona_mod
from bot.nlg import PersonaNaturalLanguageGenerator
from bot.persona import PersonaNotFound, load_facts, load_persona, system_text

ROOT = Path(__file__).resolve().parents[2]
RESPONSES = {
    "utter_faq/shipping_fee": [{"text": "满{fact:free_shipping_threshold}元包邮{emoji_gift}"}],
    "utter_greet": [{"text": "你好，我是{persona}"}],
    "utter_checkin_done": [{"text": "{you}连续签到{streak}天！"}],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.1) -> None:
        self.now += seconds


@pytest.fixture()
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(persona_mod, "_clock", fake)
    persona_mod.clear_caches()
    yield fake
    persona_mod.clear_caches()


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "data" / "brand" / "facts.yml", tmp_path / "facts.yml")
    shutil.copytree(ROOT / "personas", tmp_path / "personas")
    return tmp_path


def make_nlg(files: Path) -> PersonaNaturalLanguageGenerator:
    nlg = PersonaNaturalLanguageGenerator(persona_id="qiqi", persona_dir=files / "personas",
                                          facts_file=files / "facts.yml")
    nlg.responses = dict(RESPONSES)  # what Rasa's Agent does when it loads a model
    return nlg


def say(nlg: PersonaNaturalLanguageGenerator, name: str, **slots) -> str:
    return nlg.generate_from_slots(name, slots, "rest")["text"]


def replace(path: Path, old: str, new: str) -> None:
    """Edit like the console does: a new file moved over the old one."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text.replace(old, new), encoding="utf-8")
    os.replace(tmp, path)


def test_a_changed_fact_is_spoken_on_the_next_render(files, clock):
    nlg = make_nlg(files)
    assert say(nlg, "utter_faq/shipping_fee") == "满99元包邮🎁"
    replace(files / "facts.yml", "free_shipping_threshold: 99", "free_shipping_threshold: 129")
    clock.advance()
    assert say(nlg, "utter_faq/shipping_fee") == "满129元包邮🎁"


def test_the_file_is_looked_at_at_most_once_per_interval(files, clock, monkeypatch):
    nlg = make_nlg(files)
    say(nlg, "utter_faq/shipping_fee")
    stats, parses = [], []
    real_stat, real_load = os.stat, persona_mod.yaml.safe_load
    monkeypatch.setattr(persona_mod.os, "stat", lambda p, *a, **k: stats.append(p) or real_stat(p, *a, **k))
    monkeypatch.setattr(persona_mod.yaml, "safe_load", lambda t: parses.append(1) or real_load(t))
    replace(files / "facts.yml", "free_shipping_threshold: 99", "free_shipping_threshold: 129")
    for _ in range(50):  # within the same second: no stat, no parse, the old value
        assert say(nlg, "utter_faq/shipping_fee") == "满99元包邮🎁"
    assert stats == [] and parses == []
    clock.advance()
    for _ in range(50):
        assert say(nlg, "utter_faq/shipping_fee") == "满129元包邮🎁"
    assert len(stats) == 2 and len(parses) == 1  # one stat per file (facts, persona); one parse of the changed one


def test_a_broken_file_keeps_the_last_good_version_and_warns_once(files, clock, caplog):
    nlg = make_nlg(files)
    assert say(nlg, "utter_faq/shipping_fee") == "满99元包邮🎁"
    facts = files / "facts.yml"
    good = facts.read_text(encoding="utf-8")
    facts.write_text(good.replace("free_shipping_threshold: 99", "free_shipping_threshold: [129"), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.persona"):
        for _ in range(3):
            clock.advance()
            assert say(nlg, "utter_faq/shipping_fee") == "满99元包邮🎁"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "facts.yml" in warnings[0].getMessage()
    facts.write_text("- not\n- a mapping\n", encoding="utf-8")  # valid YAML, not facts
    clock.advance()
    assert say(nlg, "utter_faq/shipping_fee") == "满99元包邮🎁"
    replace(facts, "- not\n- a mapping\n", good.replace("free_shipping_threshold: 99", "free_shipping_threshold: 109"))
    clock.advance()
    assert say(nlg, "utter_faq/shipping_fee") == "满109元包邮🎁"


def test_a_deleted_file_keeps_the_last_good_version(files, clock):
    nlg = make_nlg(files)
    assert say(nlg, "utter_checkin_done", streak=2) == "你连续签到2天～"
    (files / "personas" / "qiqi.yml").unlink()
    (files / "facts.yml").unlink()
    clock.advance()
    assert say(nlg, "utter_faq/shipping_fee") == "满99元包邮🎁"
    assert nlg.persona.name == "七七"
    assert say(nlg, "utter_checkin_done", streak=2) == "你连续签到2天～"


def test_a_changed_persona_is_spoken_with_its_own_responses(files, clock):
    nlg = make_nlg(files)
    assert say(nlg, "utter_checkin_done", streak=3) == "你连续签到3天～"
    path = files / "personas" / "qiqi.yml"
    replace(path, "  you: 你 ", "  you: 您 ")
    replace(path, "嗨，我是七七。今天过得怎么样？护肤上的事、想签到抽奖，直接跟我说就好～", "您好，七七在呢")
    replace(path, "    - text: \"你来啦～我是{brand}的七七。有什么想问的，我都在。\"\n", "")
    clock.advance()
    assert say(nlg, "utter_checkin_done", streak=3) == "您连续签到3天～"
    assert say(nlg, "utter_greet") == "您好，七七在呢"  # the persona's wording, merged again


def test_a_broken_persona_keeps_speaking(files, clock):
    nlg = make_nlg(files)
    path = files / "personas" / "qiqi.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: 七七\n", ""), encoding="utf-8")  # no name
    clock.advance()
    assert nlg.persona.name == "七七"
    path.write_text("name: [", encoding="utf-8")  # invalid YAML
    clock.advance()
    assert say(nlg, "utter_checkin_done", streak=1) == "你连续签到1天～"


def test_a_persona_or_facts_given_to_the_constructor_stay_fixed(files, clock):
    persona = load_persona("xiaowanzi", files / "personas")
    nlg = PersonaNaturalLanguageGenerator(persona=persona, facts={"free_shipping_threshold": 59})
    nlg.responses = dict(RESPONSES)
    replace(files / "personas" / "xiaowanzi.yml", "name: 小完子", "name: 大完子")
    clock.advance()
    assert nlg.persona.name == "小完子"
    assert say(nlg, "utter_checkin_done", streak=2) == "宝子连续签到2天！"
    assert say(nlg, "utter_faq/shipping_fee") == "满59元包邮🎁"


def test_system_texts_and_the_default_files_reload_too(files, clock, monkeypatch):
    monkeypatch.setattr(persona_mod, "PERSONA_DIR", files / "personas")
    monkeypatch.setattr(persona_mod, "FACTS_FILE", files / "facts.yml")
    monkeypatch.setenv("PERSONA", "qiqi")
    assert system_text("throttled") == "你的消息有点多，七七在慢慢看，稍等一下再发哦～"
    replace(files / "personas" / "qiqi.yml", "name: 七七", "name: 七七子")
    replace(files / "facts.yml", "brand_name: 青禾", "brand_name: 青禾Plus")
    clock.advance()
    assert system_text("throttled") == "你的消息有点多，七七子在慢慢看，稍等一下再发哦～"
    assert load_facts()["brand_name"] == "青禾Plus"


def test_first_reads_behave_as_before(files, clock):
    with pytest.raises(PersonaNotFound, match="available: qiqi, xiaowanzi"):
        load_persona("nobody", files / "personas")
    assert load_facts(str(files / "missing.yml")) == {}
    (files / "personas" / "broken.yml").write_text("name: [", encoding="utf-8")
    with pytest.raises(Exception):
        load_persona("broken", files / "personas")  # never read successfully: an error, as before
    with pytest.raises(PersonaNotFound):
        PersonaNaturalLanguageGenerator(persona_id="nobody", persona_dir=files / "personas")
