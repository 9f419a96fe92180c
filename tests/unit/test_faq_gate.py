"""The FAQ gate turns an unsure FAQ answer into nlu_fallback and keeps the guesses."""
from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_gate import FaqGate


def parsed(intent: str, ranking) -> Message:
    message = Message(data={"text": "买多少包邮"})
    message.set("intent", {"name": intent, "confidence": 0.97}, add_to_output=True)
    message.set("intent_ranking", [{"name": intent, "confidence": 0.97}, {"name": "my_coupons", "confidence": 0.02}],
                add_to_output=True)
    message.set("response_selector", {"faq": {
        "response": {"intent_response_key": f"faq/{ranking[0][0]}", "confidence": ranking[0][1]},
        "ranking": [{"intent_response_key": f"faq/{k}", "confidence": c} for k, c in ranking],
    }}, add_to_output=True)
    return message


GATE = FaqGate({"retrieval_intent": "faq", "threshold": 0.5, "ambiguity_threshold": 0.05})


def test_a_confident_answer_passes():
    message = GATE.process([parsed("faq", [("shipping_fee", 0.9), ("coupon_usage", 0.05)])])[0]
    assert message.get("intent")["name"] == "faq"


def test_a_low_confidence_answer_becomes_fallback_with_the_guesses_kept():
    message = GATE.process([parsed("faq", [("shipping_fee", 0.35), ("coupon_usage", 0.3), ("invoice", 0.1)])])[0]
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("intent_ranking")[0]["name"] == "nlu_fallback"
    assert [r["intent_response_key"] for r in message.get("response_selector")["faq"]["ranking"]][:2] == [
        "faq/shipping_fee", "faq/coupon_usage"]
    assert message.as_dict(only_output_properties=True)["faq_gate"]["reason"] == "low_confidence"


def test_two_answers_neck_and_neck_become_fallback():
    message = GATE.process([parsed("faq", [("coupon_usage", 0.52), ("coupon_stack", 0.49)])])[0]
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("faq_gate")["reason"] == "ambiguous"


def test_other_intents_are_left_alone():
    message = GATE.process([parsed("chitchat", [("shipping_fee", 0.1), ("invoice", 0.1)])])[0]
    assert message.get("intent")["name"] == "chitchat"
