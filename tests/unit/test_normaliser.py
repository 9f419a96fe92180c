"""The typo, dialect and filler normaliser (bot.nlu.normaliser), trained as Rasa
trains it: on the project's own NLU data, jieba dictionary and rules file."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.faq.data import read_nlu
from bot.nlu.normaliser import TypoDialectNormaliser
from bot.nlu.simplified_chinese import to_simplified

ROOT = Path(__file__).resolve().parents[2]
RESOURCE = Resource("normaliser")
CONTEXT = ExecutionContext(GraphSchema({}), "test")
CONFIG = {"dictionary_path": str(ROOT / "data" / "jieba"), "rules_path": str(ROOT / "data" / "normalise" / "rules.yml")}
PROJECT_TEXTS = [to_simplified(t) for texts in read_nlu().values() for t in texts]
# the tidy phrasings written before the messy-typing data (colloquial_*.yml, near_misses.yml)
TIDY_TEXTS = [to_simplified(t) for texts in read_nlu([ROOT / "data" / "nlu" / f for f in (
    "intents.yml", "faq.yml", "chitchat.yml", "capabilities.yml")]).values() for t in texts]


def train(storage_path: Path, texts: List[str], config: Optional[Dict[str, Any]] = None) -> TypoDialectNormaliser:
    cfg = {**TypoDialectNormaliser.get_default_config(), **CONFIG, **(config or {})}
    component = TypoDialectNormaliser.create(cfg, LocalModelStorage(storage_path), RESOURCE, CONTEXT)
    component.train(TrainingData(training_examples=[Message(data={"text": t, "intent": "x"}) for t in texts]))
    return component


def load(storage_path: Path, config: Optional[Dict[str, Any]] = None) -> TypoDialectNormaliser:
    cfg = {**TypoDialectNormaliser.get_default_config(), **CONFIG, **(config or {})}
    return TypoDialectNormaliser.load(cfg, LocalModelStorage(storage_path), RESOURCE, CONTEXT)


@pytest.fixture(scope="module")
def component(tmp_path_factory: pytest.TempPathFactory) -> TypoDialectNormaliser:
    path = tmp_path_factory.mktemp("normaliser")
    train(path, PROJECT_TEXTS)
    return load(path)  # as the bot starts: from the persisted resource


def read(component: TypoDialectNormaliser, text: str) -> str:
    message = Message(data={"text": text})
    component.process([message])
    return message.get("text")


@pytest.mark.parametrize("typed, expected", [
    ("能包油吗", "能包邮吗"),          # learnt: same pinyin as the dictionary word 包邮
    ("积份怎么用", "积分怎么用"),      # same syllables, another tone (ji1 fen4 / ji1 fen1)
    ("快滴到哪了", "快递到哪了"),
    ("发漂怎么开", "发票怎么开"),
    ("我要签导", "我要签到"),
    ("转盘中将了吗", "转盘中奖了吗"),  # curated typo (data/normalise/rules.yml)
    ("优慧券怎么用", "优惠券怎么用"),
    ("春日转攀还能玩吗", "春日转盘还能玩吗"),  # a catalogue name (data/jieba/brand.txt)
])
def test_a_same_sound_typo_reads_as_the_known_word(component, typed, expected):
    assert read(component, typed) == expected


@pytest.mark.parametrize("typed, expected", [
    ("有冇优惠", "有没有优惠"),
    ("唔该晒", "谢谢"),
    ("点样签到", "怎么样签到"),
    ("边度可以买", "哪里可以买"),
    ("揾个真人同我倾下", "找个真人同我聊下"),
    ("唔要喇", "不要喇"),
    ("咋整", "怎么办"),
])
def test_dialect_reads_as_mandarin(component, typed, expected):
    assert read(component, typed) == expected


@pytest.mark.parametrize("text", [
    "还有皮肤干的问题",        # 有皮 is not 油皮: 还有/皮肤 are words
    "这是事实",                # 事实 is a common word, not a typo of 实施
    "退的钱会原路返回吗",      # 原 belongs to 原路, so 会原 is not 会员
    "客服也不回",              # 不回 (hui2) is not 不会 (hui4): everyday words need the tone too
    "我先下了哈",
    "先不聊了",
    "冬天脸干到起皮",
    "我倾向于买面霜",          # 倾 -> 聊 is Cantonese only where 倾 stands alone
    "这个多少钱",
    "可以包邮吗",
    "我的钱到账了吗",          # 钱/到账 is not 签到: 到账 is a word
    "退的钱到了没",            # 钱到 sounds like 签到: listed under `keep` in rules.yml
    "还有券吗",                # a particle is typed on purpose: 吗 is not 码 of 券码
])
def test_correct_text_is_left_alone(component, text):
    assert read(component, text) == text


@pytest.mark.parametrize("text", ["能check in吗", "refund多久到", "ok", "SF包邮吗", "have a nice day", "VIP有啥权益"])
def test_english_stays_english(component, text):
    assert read(component, text) == text


def test_almost_all_of_our_tidy_training_data_is_left_alone(component):
    changed = [t for t in TIDY_TEXTS if read(component, t) != t]
    # what does change is fillers, dialect and the typos written on purpose (包油吗); a
    # normaliser rewriting tidy text would show here long before the accuracy drops
    assert len(changed) < 0.05 * len(TIDY_TEXTS), changed[:20]


@pytest.mark.parametrize("typed, expected", [
    ("嗯那个我想问一下就是包邮吗", "我想问一下包邮吗"),
    ("喂你好啊", "你好"),
    ("呃然后我想签到", "我想签到"),
])
def test_voice_fillers_are_dropped(component, typed, expected):
    assert read(component, typed) == expected


@pytest.mark.parametrize("text", ["嗯", "嗯嗯", "啊"])
def test_a_filler_alone_is_the_message(component, text):
    # 嗯 on its own means yes: dropping it would leave nothing to understand
    assert read(component, text) == text


def test_a_mapping_to_a_word_the_model_never_saw_is_not_applied(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text("typos:\n  包油: 包邮\n  锅盔: 烧饼\n", encoding="utf-8")
    component = train(tmp_path, ["包邮吗", "你好"], {"rules_path": str(rules), "dictionary_path": None})
    assert read(component, "锅盔有吗") == "锅盔有吗"   # 烧饼 is not in the training data
    assert read(component, "包油吗") == "包邮吗"


def test_training_examples_with_entities_keep_their_text(component):
    annotated = Message(data={"text": "嗯我是油脾", "intent": "inform_skin_type",
                              "entities": [{"start": 2, "end": 4, "value": "油脾", "entity": "skin_type"}]})
    plain = Message(data={"text": "嗯那个积份怎么用", "intent": "faq"})
    component.process_training_data(TrainingData(training_examples=[annotated, plain]))
    assert annotated.get("text") == "嗯我是油脾"
    assert plain.get("text") == "积分怎么用"


def test_an_untrained_component_changes_nothing(tmp_path):
    component = load(tmp_path)  # nothing persisted under this resource
    assert read(component, "嗯那个包油吗") == "嗯那个包油吗"


def test_editing_the_rules_retrains_the_component(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text("fillers: [嗯]\n", encoding="utf-8")
    before = TypoDialectNormaliser.fingerprint_addon({**CONFIG, "rules_path": str(rules)})
    rules.write_text("fillers: [嗯, 呃]\n", encoding="utf-8")
    assert TypoDialectNormaliser.fingerprint_addon({**CONFIG, "rules_path": str(rules)}) != before
