"""Remember the NLU result of a text: a campaign push brings the same few words
(签到, 抽奖, 1) back from hundreds of customers, and the pipeline's answer for a
text never changes while the model is loaded.

`install()` wraps Rasa's `MessageProcessor._parse_message_with_graph` with a
least-recently-used cache of PARSE_CACHE_SIZE texts (default 4096, 0 turns it
off), keyed by the model's id too (a new model never sees old results). Every
NLU component of ours reads only the text, never the tracker or metadata, so
the cached result is the one the pipeline would give. Hits return a deep copy:
Rasa and our channels edit parse data in place.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Dict, Hashable, Optional, Text, Tuple

from rasa.core.processor import MessageProcessor

from common.env import env_float

DEFAULT_SIZE = 4096


class LruCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: "OrderedDict[Hashable, Any]" = OrderedDict()

    def get(self, key: Hashable) -> Optional[Any]:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def cache_size() -> int:
    return max(0, int(env_float("PARSE_CACHE_SIZE", DEFAULT_SIZE)))


_cache = LruCache(cache_size())


def _key(processor: MessageProcessor, text: Optional[Text], only_output_properties: bool) -> Tuple:
    # per trained model (its id is unique): a new model never sees old results
    return processor.model_metadata.model_id, text, only_output_properties


def install() -> None:
    if _cache.size == 0 or getattr(MessageProcessor, "_parse_cache_installed", False):
        return
    parse = MessageProcessor._parse_message_with_graph

    def cached_parse(self: MessageProcessor, message: Any, tracker: Any,
                     only_output_properties: bool = True) -> Dict[Text, Any]:
        key = _key(self, message.text, only_output_properties)
        found = _cache.get(key)
        if found is None:
            found = parse(self, message, tracker, only_output_properties)
            _cache.put(key, copy.deepcopy(found))
            return found
        return copy.deepcopy(found)

    MessageProcessor._parse_message_with_graph = cached_parse
    MessageProcessor._parse_cache_installed = True
