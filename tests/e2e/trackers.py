"""A conversation as Rasa stores it, read through Rasa's HTTP API as a trusted caller."""
from __future__ import annotations

from typing import List

import requests


def tracker_events(stack, sender_id: str) -> List[dict]:
    answer = requests.get(f"{stack.rasa_url}/conversations/{sender_id}/tracker",
                          params={"token": stack.rasa_token}, timeout=10)
    answer.raise_for_status()
    return answer.json().get("events") or []


def user_texts(stack, sender_id: str) -> List[str]:
    """What reached NLU, in order (one entry per processed message)."""
    return [e["text"] for e in tracker_events(stack, sender_id) if e.get("event") == "user"]
