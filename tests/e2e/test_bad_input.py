"""Bad input gets a polite persona reply (or a clear 4xx), never a crash or silence."""
from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize(
    "message, expected",
    [
        ("", "没有打字"),
        ("   \n\t ", "没有打字"),
        ("😂😂👍", "表情"),
        (None, "没有打字"),
    ],
    ids=["empty", "whitespace", "emoji-only", "missing"],
)
def test_odd_messages_get_a_persona_reply(chat, message, expected):
    reply = chat.texts(message)
    assert expected in reply


def test_a_10000_character_message_is_cut_answered_and_logged(chat, stack):
    reply = chat.send("你好呀" + "哈" * 9_997)
    assert reply and all(m.get("text") for m in reply), "a very long message still gets an answer"
    assert "adjusted: truncated (10000 chars)" in (stack.run_dir / "logs" / "rasa.log").read_text(errors="replace")


def test_invalid_utf8_is_answered_not_refused(stack):
    body = b'{"sender": "bad-bytes", "message": "\xff\xfe\xfa\xe4\xbd\xa0\xe5\xa5\xbd"}'
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {stack.rasa_token}"}, timeout=30,
    )
    assert response.status_code == 200
    assert response.json(), "an invalid-UTF-8 message still gets a reply"
    assert "七七" in " ".join(m.get("text", "") for m in response.json())


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]"], ids=["malformed", "not-an-object"])
def test_malformed_json_gets_a_400_with_a_reason(stack, body):
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {stack.rasa_token}"}, timeout=10,
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert "REST webhook" in (stack.run_dir / "logs" / "rasa.log").read_text(errors="replace")


def test_typed_intent_syntax_is_not_trusted(chat, stack):
    # A consumer typing Rasa's "/intent{entities}" syntax must not set entities.
    assert chat.texts('/my_prizes{"customer_id": "someone-else"}')
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{chat.sender}/tracker", params={"token": stack.rasa_token}, timeout=10
    ).json()
    latest = tracker["latest_message"]
    assert not latest["text"].startswith("/")
    assert all(e.get("entity") != "customer_id" for e in latest.get("entities", []))
