"""The parse cache answers a repeated text without running the NLU pipeline
again, per loaded model, and never lets one caller's edits reach another."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from rasa.core.processor import MessageProcessor

from bot import parse_cache


@pytest.fixture
def pipeline(monkeypatch):
    runs = []

    def parse(self, message, tracker, only_output_properties=True):
        runs.append(message.text)
        return {"text": message.text, "intent": {"name": "checkin", "confidence": 0.99}, "entities": []}

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", parse)
    monkeypatch.setattr(MessageProcessor, "_parse_cache_installed", False, raising=False)
    monkeypatch.setattr(parse_cache, "_cache", parse_cache.LruCache(2))
    parse_cache.install()
    return runs


def processor():
    instance = object.__new__(MessageProcessor)
    instance.model_metadata = SimpleNamespace(model_id=uuid.uuid4().hex)  # one per trained model
    return instance


def message(text):
    return SimpleNamespace(text=text)


def test_a_repeated_text_runs_the_pipeline_once(pipeline):
    bot = processor()
    first = bot._parse_message_with_graph(message("签到"), None)
    again = bot._parse_message_with_graph(message("签到"), None)
    assert again == first and pipeline == ["签到"]


def test_edits_to_a_result_do_not_reach_the_next_caller(pipeline):
    bot = processor()
    bot._parse_message_with_graph(message("签到"), None)["intent"]["name"] = "changed"
    assert bot._parse_message_with_graph(message("签到"), None)["intent"]["name"] == "checkin"


def test_a_new_model_does_not_see_the_old_models_results(pipeline):
    processor()._parse_message_with_graph(message("签到"), None)
    processor()._parse_message_with_graph(message("签到"), None)
    assert pipeline == ["签到", "签到"]


def test_the_least_recently_used_text_is_forgotten(pipeline):
    bot = processor()
    for text in ("签到", "抽奖", "签到", "我的奖品", "抽奖"):
        bot._parse_message_with_graph(message(text), None)
    assert pipeline == ["签到", "抽奖", "我的奖品", "抽奖"]
