"""FAQ gate: a confident `faq` intent with an unsure answer becomes nlu_fallback.

The FallbackClassifier only looks at the intent. For FAQ the intent is often
clear ("a policy question") while the response selector hesitates between
keys; answering the wrong key is worse than asking. When the selector's top
confidence is below `threshold` (or the top two are closer than
`ambiguity_threshold`), the intent becomes `nlu_fallback` and the selector's
ranking stays in the parse data, where action_faq_fallback reads the guesses.

    - name: bot.nlu.faq_gate.FaqGate
      threshold: 0.5
      ambiguity_threshold: 0.05
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

RESPONSE_SELECTOR = "response_selector"
GATE_KEY = "faq_gate"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class FaqGate(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"retrieval_intent": "faq", "threshold": 0.5, "ambiguity_threshold": 0.05}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.retrieval_intent: str = config["retrieval_intent"]
        self.threshold: float = float(config["threshold"])
        self.ambiguity_threshold: float = float(config["ambiguity_threshold"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "FaqGate":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._gate(message)
        return messages

    def unsure_reason(self, message: Message) -> Optional[str]:
        """Why the FAQ answer is too unsure to give, or None."""
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) != self.retrieval_intent:
            return None
        selector = (message.get(RESPONSE_SELECTOR) or {}).get(self.retrieval_intent) or {}
        ranking = selector.get("ranking") or []
        top = float((selector.get("response") or {}).get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        if top < self.threshold:
            return "low_confidence"
        if len(ranking) > 1:
            second = float(ranking[1].get(PREDICTED_CONFIDENCE_KEY) or 0.0)
            if top - second < self.ambiguity_threshold:
                return "ambiguous"
        return None

    def _gate(self, message: Message) -> None:
        reason = self.unsure_reason(message)
        if reason is None:
            return
        selector = message.get(RESPONSE_SELECTOR)[self.retrieval_intent]
        confidence = float(selector["response"].get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: confidence}
        message.data[INTENT] = fallback
        ranking = message.get(INTENT_RANKING_KEY) or []
        message.data[INTENT_RANKING_KEY] = [fallback] + [
            r for r in ranking if r.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME
        ]
        message.set(GATE_KEY, {"reason": reason, "faq_confidence": confidence}, add_to_output=True)
