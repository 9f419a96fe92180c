"""Remember TEDPolicy's prediction for a dialogue state it has seen.

TED's prediction is a function of the last `max_history` dialogue states alone
(intents, entities, previous actions, slots, the active form), not of the
message text, as long as the model was not trained on end-to-end stories. At
50 concurrent conversations TED's inference was a quarter of the Rasa server's
busy time (docs/performance.md), and conversations keep walking the same few
states: greet → FAQ → check-in → coupons, whatever the words. So `install()`
wraps `TEDPolicy.predict_action_probabilities` with a least-recently-used cache
of POLICY_CACHE_SIZE states (default 4096, 0 turns it off), kept on the policy
object (a new model starts empty). The key is the states TED featurizes, computed
by TED's own featurizer; a model that reads text (end-to-end) is never cached.
Hits return a new prediction with its own probability list.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.nlu.constants import TEXT

from bot.parse_cache import LruCache
from common.env import env_float

DEFAULT_SIZE = 4096
_CACHE_ATTRIBUTE = "_qinghe_prediction_cache"


def cache_size() -> int:
    return max(0, int(env_float("POLICY_CACHE_SIZE", DEFAULT_SIZE)))


def reads_text(policy: TEDPolicy) -> bool:
    """Trained on end-to-end stories: the prediction depends on the words, not only the state."""
    return bool(policy.only_e2e or TEXT in (getattr(policy, "fake_features", None) or {}))


def state_key(states: List[Dict[Text, Any]]) -> str:
    # tuples (entities, slot values) become lists; a frozenset (never in Rasa 3.6 states) sorted
    return json.dumps(states, sort_keys=True, ensure_ascii=False, default=sorted)


def _copy(prediction: PolicyPrediction) -> PolicyPrediction:
    return PolicyPrediction(
        list(prediction.probabilities), prediction.policy_name, prediction.policy_priority,
        list(prediction.events), list(prediction.optional_events), prediction.is_end_to_end_prediction,
        prediction.is_no_user_prediction, prediction.diagnostic_data, prediction.hide_rule_turn,
        prediction.action_metadata,
    )


def install() -> None:
    if cache_size() == 0 or getattr(TEDPolicy, "_prediction_cache_installed", False):
        return
    predict = TEDPolicy.predict_action_probabilities

    def cached_predict(self: TEDPolicy, tracker: Any, domain: Any, rule_only_data: Optional[Dict[Text, Any]] = None,
                       precomputations: Any = None, **kwargs: Any) -> PolicyPrediction:
        if self.model is None or reads_text(self):
            return predict(self, tracker, domain, rule_only_data=rule_only_data, precomputations=precomputations,
                           **kwargs)
        cache = self.__dict__.setdefault(_CACHE_ATTRIBUTE, LruCache(cache_size()))
        key = state_key(self._prediction_states(tracker, domain, rule_only_data=rule_only_data))
        found = cache.get(key)
        if found is None:
            found = predict(self, tracker, domain, rule_only_data=rule_only_data, precomputations=precomputations,
                            **kwargs)
            cache.put(key, _copy(found))
            return found
        return _copy(found)

    TEDPolicy.predict_action_probabilities = cached_predict
    TEDPolicy._prediction_cache_installed = True
