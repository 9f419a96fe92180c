"""Read traditional characters as simplified before tokenising.

Consumers in Hong Kong, Taiwan and overseas, or with a traditional input
method, write 優惠券 / 謝謝 / 發順豐可以嗎. Our training data is mostly
simplified, so jieba and the character n-grams would see unknown tokens.
Converting first (zhconv, pure Python) lets one set of examples serve both.
Only length-preserving conversions are applied so entity offsets stay valid.

    pipeline:
      - name: bot.nlu.simplified_chinese.SimplifiedChinese   # before JiebaTokenizer
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from zhconv import convert


def to_simplified(text: str) -> str:
    converted = convert(text, "zh-cn")
    return converted if len(converted) == len(text) else text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SimplifiedChinese(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SimplifiedChinese":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text:
                message.set(TEXT, to_simplified(text))
        return messages
