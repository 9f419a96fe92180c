"""Brand facts live once in facts.yml: changing one changes every FAQ answer
that uses it, in every persona's voice, without touching the answers."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.persona import available_personas, load_facts, load_persona, render_text

ROOT = Path(__file__).resolve().parents[3]
ANSWERS = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))["responses"]


def test_a_fact_change_reaches_every_answer_that_uses_it():
    facts = dict(load_facts())
    facts["free_shipping_threshold"] = 129
    users = [k for k, v in ANSWERS.items() if any("{fact:free_shipping_threshold}" in r["text"] for r in v)]
    assert "utter_faq/shipping_fee" in users
    for persona_id in available_personas():
        persona = load_persona(persona_id)
        for key in users:
            for response in ANSWERS[key]:
                text = render_text(response["text"], persona, facts)
                if "{fact:free_shipping_threshold}" in response["text"]:
                    assert "129" in text and "满99" not in text


def test_every_answer_renders_without_placeholders_left():
    facts = load_facts()
    persona = load_persona("qiqi")
    for key, variants in ANSWERS.items():
        for response in variants:
            text = render_text(response["text"], persona, facts)
            assert not re.search(r"\{(fact:|persona|you|emoji_)", text), (key, text)
