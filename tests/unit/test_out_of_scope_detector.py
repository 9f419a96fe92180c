"""The out-of-scope detector (bot.nlu.out_of_scope) overrides a confident wrong
intent with out_of_scope, readily where a mistake costs most."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.faq.data import read_nlu
from bot.nlu.out_of_scope import OutOfScopeDetector

RESOURCE = Resource("oos")
CONTEXT = ExecutionContext(GraphSchema({}), "test")


def train(path: Path, config: Optional[Dict[str, Any]] = None) -> OutOfScopeDetector:
    examples = [Message(data={"text": t, "intent": label.split("/", 1)[0]})
                for label, texts in read_nlu().items() for t in texts]
    cfg = {**OutOfScopeDetector.get_default_config(), **(config or {})}
    OutOfScopeDetector.create(cfg, LocalModelStorage(path), RESOURCE, CONTEXT).train(
        TrainingData(training_examples=examples))
    return OutOfScopeDetector.load(cfg, LocalModelStorage(path), RESOURCE, CONTEXT)


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> OutOfScopeDetector:
    return train(tmp_path_factory.mktemp("oos"))


def classified(detector: OutOfScopeDetector, text: str, intent: str, confidence: float = 0.99) -> Message:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": confidence},
                            "intent_ranking": [{"name": intent, "confidence": confidence}]})
    detector.process([message])
    return message


def test_a_confident_wrong_complaint_about_the_neighbours_becomes_out_of_scope(detector):
    message = classified(detector, "今天天气怎么样 明天北京下雨吗", "complain")
    assert message.get("intent")["name"] == "out_of_scope"
    assert message.get("intent_ranking")[0]["name"] == "out_of_scope"
    assert message.get("out_of_scope_detector")["overrode"] == "complain"


@pytest.mark.parametrize("text, intent", [("满多少包邮", "faq"), ("我要签到", "checkin"), ("转人工", "human_handoff"),
                                          ("谢谢", "thanks"), ("拜拜", "goodbye")])
def test_our_own_requests_keep_their_intent(detector, text, intent):
    message = classified(detector, text, intent)
    assert message.get("intent")["name"] == intent
    assert message.get("out_of_scope_detector")["overrode"] is None


def test_the_bar_is_lower_where_a_mistake_costs_more(tmp_path):
    detector = train(tmp_path, {"threshold": 1.01, "thresholds": {"faq": 0.0}})
    assert classified(detector, "满多少包邮", "faq").get("intent")["name"] == "out_of_scope"
    assert classified(detector, "满多少包邮", "checkin").get("intent")["name"] == "checkin"


def test_an_untrained_detector_changes_nothing(tmp_path):
    detector = OutOfScopeDetector.load(OutOfScopeDetector.get_default_config(), LocalModelStorage(tmp_path),
                                       RESOURCE, CONTEXT)
    assert classified(detector, "今天天气怎么样", "complain").get("intent")["name"] == "complain"


def test_the_loaded_model_scores_as_the_trained_one_without_copying_its_weights(detector):
    import pickle

    as_trained = pickle.loads(pickle.dumps(detector.model))
    as_trained.steps[-1][1].coef_ = as_trained.steps[-1][1].coef_.copy(order="C")  # the layout training leaves
    texts = ["你们招不招兼职", "满多少包邮", "宝宝湿疹能用吗", "签到"]
    assert (detector.model.predict_proba(texts) == as_trained.predict_proba(texts)).all()
    # scoring reads coef_.T: row-major as loaded, so scipy does not copy it per message
    assert detector.model.steps[-1][1].coef_.T.flags["C_CONTIGUOUS"]
    assert not as_trained.steps[-1][1].coef_.T.flags["C_CONTIGUOUS"]
