"""Flood through the real stack (REST webhook → Rasa with a model): one customer's
100 messages get one persona reply and at most FLOOD_MAX_MESSAGES reach NLU;
another customer writing at the same time gets real answers."""
from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import List

import requests

from bot.flood import DEFAULT_MAX_MESSAGES
from bot.persona import load_persona, system_text


def test_a_flood_of_100_messages_is_throttled_and_others_are_unaffected(stack, make_chat):
    flooder = make_chat(stack.rasa_url, f"e2e-flood-{secrets.token_hex(4)}")
    calm = make_chat(stack.rasa_url, f"e2e-calm-{secrets.token_hex(4)}")
    throttled = system_text("throttled", load_persona("qiqi"))
    apology = system_text("service_apology", load_persona("qiqi"))
    with ThreadPoolExecutor(max_workers=24) as pool:
        flood = [pool.submit(flooder.send, f"你好{n}") for n in range(100)]
        calm_answer = pool.submit(calm.texts, "你好")
        answers: List[List[dict]] = [f.result() for f in flood]
        calm_text = calm_answer.result()

    texts = [m.get("text", "") for a in answers for m in a]
    assert texts.count(throttled) == 1
    answered = [a for a in answers if a and throttled not in [m.get("text") for m in a]]
    assert 0 < len(answered) <= DEFAULT_MAX_MESSAGES
    assert sum(1 for a in answers if a == []) >= 100 - DEFAULT_MAX_MESSAGES - 1  # the rest: nothing, no NLU
    assert calm_text and calm_text not in (throttled, apology) and apology not in calm_text
    # What reached NLU is what the tracker holds (the REST id may be kept in the rest: namespace).
    user_events = 0
    for sender_id in (flooder.sender, f"rest:{flooder.sender}"):
        tracker = requests.get(f"{stack.rasa_url}/conversations/{sender_id}/tracker",
                               params={"token": stack.rasa_token}, timeout=10)
        if tracker.ok:
            user_events += sum(1 for e in tracker.json().get("events") or [] if e.get("event") == "user")
    assert 0 < user_events <= DEFAULT_MAX_MESSAGES
