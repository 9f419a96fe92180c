"""TED's prediction cache: a dialogue state seen before is answered without TED's
inference, per loaded model; a model that reads the words is never cached; one
caller's edits to a prediction never reach the next."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.nlu.constants import TEXT

from bot import policy_cache

GREETED = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
ASKED = [{"user": {"intent": "faq"}, "prev_action": {"action_name": "action_listen"},
          "slots": {"customer_level": (1.0, 0.0)}}]


@pytest.fixture
def inference(monkeypatch):
    runs = []

    def predict(self, tracker, domain, rule_only_data=None, precomputations=None, **kwargs):
        runs.append(tracker.states)
        return PolicyPrediction([0.1, 0.9], "TEDPolicy", 1)

    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", predict)
    monkeypatch.setattr(TEDPolicy, "_prediction_cache_installed", False, raising=False)
    monkeypatch.setattr(TEDPolicy, "_prediction_states",
                        lambda self, tracker, domain, rule_only_data=None: tracker.states, raising=False)
    policy_cache.install()
    return runs


def loaded_policy(fake_features=None) -> TEDPolicy:
    """A TEDPolicy as a loaded model has it (no training: the inference is faked above)."""
    policy = object.__new__(TEDPolicy)
    policy.model = object()
    policy.only_e2e = False
    policy.fake_features = fake_features or {}
    return policy


def predict(policy: TEDPolicy, states) -> PolicyPrediction:
    return policy.predict_action_probabilities(SimpleNamespace(states=states), domain=None)


def test_a_state_seen_before_skips_the_inference(inference):
    policy = loaded_policy()
    first = predict(policy, GREETED)
    again = predict(policy, GREETED)
    assert again.probabilities == first.probabilities == [0.1, 0.9]
    assert again.policy_name == "TEDPolicy" and inference == [GREETED]


def test_another_state_runs_the_inference(inference):
    policy = loaded_policy()
    predict(policy, GREETED)
    predict(policy, ASKED)
    predict(policy, ASKED)
    assert inference == [GREETED, ASKED]


def test_edits_to_a_prediction_do_not_reach_the_next_caller(inference):
    policy = loaded_policy()
    predict(policy, GREETED).probabilities[1] = 0.0
    assert predict(policy, GREETED).probabilities == [0.1, 0.9]


def test_a_new_model_does_not_see_the_old_models_predictions(inference):
    predict(loaded_policy(), GREETED)
    predict(loaded_policy(), GREETED)
    assert inference == [GREETED, GREETED]


def test_a_model_trained_on_words_is_never_cached(inference):
    policy = loaded_policy(fake_features={TEXT: []})
    predict(policy, GREETED)
    predict(policy, GREETED)
    assert inference == [GREETED, GREETED]
