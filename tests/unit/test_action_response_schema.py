"""The compiled validator accepts what Rasa's own accepts and refuses what it refuses."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import action_response_schema


@pytest.fixture
def action(monkeypatch):
    original = RemoteAction._validate_action_result
    action_response_schema.install()
    yield RemoteAction("action_checkin", EndpointConfig("http://127.0.0.1:1/webhook"))
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)


def test_a_valid_response_passes(action):
    result = {"events": [{"event": "slot", "name": "points", "value": 10}],
              "responses": [{"text": "签到成功", "buttons": []}]}
    assert action._validate_action_result(result) is True


@pytest.mark.parametrize("result", [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": ["not an object"]},
])
def test_a_malformed_response_is_refused_with_rasas_hint(action, result):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(result)
