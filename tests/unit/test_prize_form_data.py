"""The address form's interruptions, read from the training data: every
interrupting intent fills no form slot (else "运费多少钱" becomes a name) and has
a rule that answers it and runs the form again (which asks the same slot)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FORM = "prize_address_form"
# intent -> what answers it inside the form
INTERRUPTIONS = {
    "faq": "utter_faq", "chitchat": "utter_chitchat", "bot_challenge": "utter_bot_challenge",
    "human_handoff": "action_human_handoff", "checkin": "action_checkin",
}
LEAVING = {"stop_form": "action_pause_prize_form", "deny": "action_pause_prize_form"}


def _domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def _form_rules() -> list:
    rules = yaml.safe_load((ROOT / "data" / "rules" / "lottery_form.yml").read_text(encoding="utf-8"))["rules"]
    return [r for r in rules if {"active_loop": FORM} in (r.get("condition") or [])]


@pytest.mark.parametrize("slot", _domain()["forms"][FORM]["required_slots"])
def test_no_interrupting_intent_fills_a_form_slot(slot):
    for mapping in _domain()["slots"][slot]["mappings"]:
        if mapping["type"] == "from_text":
            assert set(INTERRUPTIONS) | set(LEAVING) <= set(mapping.get("not_intent") or []), slot


@pytest.mark.parametrize("intent, answer", INTERRUPTIONS.items())
def test_an_interruption_is_answered_and_the_form_runs_again(intent, answer):
    expected = [{"intent": intent}, {"action": answer}, {"action": FORM}, {"active_loop": FORM}]
    assert any(rule["steps"] == expected for rule in _form_rules()), intent


@pytest.mark.parametrize("intent, action", LEAVING.items())
def test_leaving_the_form_still_pauses_it(intent, action):
    expected = [{"intent": intent}, {"action": action}, {"active_loop": None}]
    assert any(rule["steps"] == expected for rule in _form_rules()), intent


def test_every_interruption_has_a_test_story():
    stories = (ROOT / "tests" / "stories" / "test_prize_form.yml").read_text(encoding="utf-8")
    for intent, answer in INTERRUPTIONS.items():
        assert f"intent: {intent}\n      - action: {answer}\n      - action: {FORM}" in stories, intent
