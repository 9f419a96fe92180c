"""What a consumer would call a real answer: not an outage apology."""
from __future__ import annotations

import functools
from typing import List

import yaml

from bot.persona import available_personas, load_facts, load_persona, render_text, system_text
from bot.stack import ROOT

# bot.action_guard's responses (importing it loads TensorFlow): the outage apology and the
# "still working on it" reply of a timed-out action; neither is an answer.
APOLOGY_RESPONSES = ("utter_service_unavailable", "utter_action_slow")


@functools.lru_cache(maxsize=None)
def apology_texts() -> frozenset:
    """Every outage apology either persona can say, rendered as a consumer sees it."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    found = set()
    for persona_id in available_personas():
        persona = load_persona(persona_id)
        for key in persona.system_texts:
            if "apology" in key or key.endswith("unreachable"):
                found.add(system_text(key, persona))
        for response in APOLOGY_RESPONSES:
            for variant in persona.responses.get(response) or domain[response]:
                found.add(render_text(variant["text"], persona, load_facts()))
    return frozenset(found)


def assert_not_only_apology(messages: List[dict]) -> None:
    texts = [m.get("text", "") for m in messages if m.get("text")]
    assert not texts or not all(t in apology_texts() for t in texts), f"the bot only apologised: {texts}"
