"""Toneless pinyin reads as the Chinese of the training data; English stays as typed."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.pinyin import PinyinToHanzi, PinyinVocabulary

RESOURCE = Resource("pinyin")
CONTEXT = ExecutionContext(GraphSchema({}), "test")

TRAINING_TEXTS = [
    "你好", "优惠券怎么用", "成分表在哪看", "我要签到", "包邮吗", "西安有店吗",
    "先发货吗", "先付款吗",          # 先 (xian) is more frequent than 西安 (xi'an)
    "在吗", "好啊", "和你说",          # single characters: zai ma, a, he
    "立刻发货", "那么贵",              # like = li+ke, name = na+me are Chinese words here
    "物流到哪了", "物流怎么查", "七天无理由退货",  # wu: 物 is more frequent, but 无 precedes 理由
    "温和吗", "水温多少", "温度", "我想问一下",    # wen: 温 is more frequent, but 想问 is what we saw
]


def training_data(texts: List[str], entity_examples: Optional[List[Message]] = None) -> TrainingData:
    messages = [Message(data={"text": text, "intent": "ask"}) for text in texts]
    return TrainingData(training_examples=messages + (entity_examples or []))


def train(storage_path: Path, texts: List[str], config: Optional[Dict[str, Any]] = None) -> PinyinToHanzi:
    storage = LocalModelStorage(storage_path)
    component = PinyinToHanzi.create({**PinyinToHanzi.get_default_config(), **(config or {})},
                                     storage, RESOURCE, CONTEXT)
    component.train(training_data(texts))
    return component


def load(storage_path: Path) -> PinyinToHanzi:
    # a fresh storage object on the same directory, as when the bot starts
    return PinyinToHanzi.load(PinyinToHanzi.get_default_config(), LocalModelStorage(storage_path), RESOURCE, CONTEXT)


@pytest.fixture(scope="module")
def storage_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pinyin")
    train(path, TRAINING_TEXTS)
    return path


@pytest.fixture(scope="module")
def component(storage_path: Path) -> PinyinToHanzi:
    return load(storage_path)


def read(component: PinyinToHanzi, text: str) -> str:
    message = Message(data={"text": text})
    component.process([message])
    return message.get("text")


@pytest.mark.parametrize("typed, expected", [
    ("nihao", "你好"),
    ("NiHao", "你好"),
    ("youhuiquan怎么用", "优惠券怎么用"),
    ("youhuiquan zenme yong", "优惠券怎么用"),
    ("you hui quan zen me yong", "优惠券怎么用"),
    ("chengfen在哪看", "成分在哪看"),
    ("wo yao qiandao", "我要签到"),
    ("baoyou ma", "包邮吗"),
    ("baoyou吗?", "包邮吗?"),
    ("zaima", "在吗"),
    ("xian发货吗", "先发货吗"),
    ("xi'an you dian ma", "西安有店吗"),
    ("wuliyou退货", "无理由退货"),
    ("wo xiang wen yi xia", "我想问一下"),
])
def test_pinyin_reads_as_the_chinese_of_the_training_data(component, typed, expected):
    assert read(component, typed) == expected


@pytest.mark.parametrize("typed, expected", [
    ("ok wo yao qiandao", "ok 我要签到"),
    ("hello, nihao", "hello, 你好"),
    ("SF baoyou吗", "SF 包邮吗"),
])
def test_english_next_to_pinyin_stays_and_the_pinyin_converts(component, typed, expected):
    assert read(component, typed) == expected


@pytest.mark.parametrize("text", [
    "sample有吗", "shelf life多久", "ok", "hello", "SF能发吗", "vip", "gpt", "iphone", "OK的",
    # English that spells pinyin the data could write: stop-listed or acronyms
    "like", "name", "he", "tell me a joke", "how are you", "MA",
    # order numbers, URLs and e-mail addresses
    "TB2024nihao", "www.baoyou.com", "nihao@qq.com",
    # intent payloads from buttons are read as typed
    "/greet",
])
def test_english_and_codes_are_left_alone(component, text):
    assert read(component, text) == text


@pytest.mark.parametrize("text", [
    "zhuanpan在哪",        # 转盘 is not in the training data
    "nihao zhuanpan",      # all or nothing: half a conversion would be worse than none
    "mazai",               # 吗在 never occurs in the data: glued single characters need evidence
    "xyz",
])
def test_pinyin_outside_the_training_vocabulary_is_left_alone(component, text):
    assert read(component, text) == text


def test_training_examples_with_entities_keep_their_text(component):
    with_entity = Message(data={"text": "baoyou吗", "intent": "ask",
                                "entities": [{"start": 0, "end": 6, "value": "baoyou", "entity": "topic"}]})
    data = training_data(["baoyou吗"], [with_entity])
    component.process_training_data(data)
    assert [m.get("text") for m in data.training_examples] == ["包邮吗", "baoyou吗"]


def test_the_trained_vocabulary_survives_loading(tmp_path):
    trained = train(tmp_path, TRAINING_TEXTS)
    loaded = load(tmp_path)
    assert loaded.vocabulary == trained.vocabulary
    assert loaded.vocabulary.words["nihao"][0]["word"] == "你好"
    assert read(loaded, "nihao") == "你好"


def test_the_most_frequent_word_wins_a_shared_spelling(component):
    assert [entry["word"] for entry in component.vocabulary.words["xian"]][:2] == ["先", "西安"]


def test_the_user_dictionary_keeps_brand_words_whole(tmp_path):
    dictionary = tmp_path / "userdict.txt"
    dictionary.write_text("禾清霜 1000 n\n", encoding="utf-8")
    texts = ["禾清霜好用吗"]
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    with_dictionary = train(tmp_path / "with", texts, {"dictionary_path": str(dictionary)})
    without_dictionary = train(tmp_path / "without", texts)
    assert with_dictionary.vocabulary.words["heqingshuang"][0]["word"] == "禾清霜"
    assert "heqingshuang" not in without_dictionary.vocabulary.words


def test_an_untrained_component_converts_nothing(tmp_path):
    component = load(tmp_path)
    assert component.vocabulary == PinyinVocabulary()
    assert read(component, "nihao") == "nihao"


def test_editing_the_user_dictionary_retrains_the_component(tmp_path):
    # Rasa reuses a cached component unless its fingerprint changes
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("青禾 100 n\n", encoding="utf-8")
    before = PinyinToHanzi.fingerprint_addon({"dictionary_path": str(tmp_path)})
    userdict.write_text("青禾 100 n\n清透水 50 n\n", encoding="utf-8")
    assert PinyinToHanzi.fingerprint_addon({"dictionary_path": str(tmp_path)}) != before
    assert PinyinToHanzi.fingerprint_addon({"dictionary_path": None}) is None
