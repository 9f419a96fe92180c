"""Read typos, dialect and voice fillers as the standard words before tokenising.

Real WeChat traffic is messier than our training data:
- pinyin input picks a same-sounding wrong character: 包油 (包邮), 积份 (积分),
  快滴 (快递), 发漂 (发票);
- Cantonese and regional words: 有冇, 唔该, 点样, 边度, 咋整;
- 公众号 voice transcripts carry fillers: 嗯那个我想问一下就是包邮吗.

This component rewrites the text the classifiers see (the transcript and the
inbox keep what the customer wrote):
1. curated mappings from `data/normalise/rules.yml` (typos and dialect), kept
   only when the standard word is known to the model;
2. learnt homophones: a span the model does not know whose toneless pinyin
   equals a brand dictionary word's (or a frequent training word's) becomes
   that word;
3. fillers are dropped when something else remains ("嗯" alone means yes).

Every rewrite is aligned to jieba's segmentation without HMM, so a mapping
never cuts through a word: 倾 -> 聊 applies to 同我倾 but not to 倾向, and 有皮
is not read as 油皮 in 还有皮肤 (还有/皮肤). A multi-character word jieba knows
well (事实) is never "corrected" into a homophone (实施).

    pipeline:
      - name: bot.nlu.pinyin.PinyinToHanzi
      - name: bot.nlu.normaliser.TypoDialectNormaliser   # before JiebaTokenizer
        dictionary_path: data/jieba
        rules_path: data/normalise/rules.yml
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Text, Tuple

import jieba
import yaml
from pypinyin import Style, pinyin
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

from bot.nlu.pinyin import dictionary_files, make_jieba_tokenizer

logger = logging.getLogger(__name__)

STATE_FILE = "normaliser.json"
_HAN_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")
_CONTENT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9]")
# sentence particles are typed on purpose: 还有券吗 is not a typo of 券码
PARTICLES = frozenset("吗嘛吧呢啊呀哦哈啦了的地得么")
MAX_SPAN = 4           # longest span read as one homophone (小绿瓶 fits, sentences do not)


def read_rules(path: Optional[str]) -> Dict[str, Any]:
    if not path or not Path(path).is_file():
        return {}
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def dictionary_words(dictionary_path: Optional[str]) -> Set[str]:
    """The words of the jieba user dictionary (brand words, generated brand names)."""
    words = set()
    for file in dictionary_files(dictionary_path):
        for line in file.read_text(encoding="utf-8").splitlines():
            word = line.split(" ", 1)[0].strip()
            if word and not word.startswith("#"):
                words.add(word)
    return words


def readings(span: str) -> List[Tuple[str, ...]]:
    """How the span is read: as a phrase, and character by character (the
    reading an input method offers first). Rare readings of polyphones are
    left out: they matched far more correct text than typos."""
    phrase = main_reading(span)
    chars = tuple(main_reading(c)[0] for c in span)
    return [r for r in dict.fromkeys([phrase, chars]) if len(r) == len(span)]


def main_reading(word: str, style: Style = Style.NORMAL) -> Tuple[str, ...]:
    return tuple(r[0] for r in pinyin(word, style=style))


@dataclass
class NormaliserState:
    """What training learnt: the words the model knows and the homophone targets."""

    known: Set[str] = field(default_factory=set)
    homophones: Dict[str, str] = field(default_factory=dict)   # "bao you" -> 包邮
    same_tone: Set[str] = field(default_factory=set)           # targets a typo must match in tone too
    mappings: Dict[str, str] = field(default_factory=dict)     # curated typo/dialect -> standard
    fillers: List[str] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return {"version": 1, "known": sorted(self.known), "homophones": self.homophones,
                "same_tone": sorted(self.same_tone),
                "mappings": self.mappings, "fillers": self.fillers}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "NormaliserState":
        return cls(known=set(data.get("known") or ()), homophones=dict(data.get("homophones") or {}),
                   same_tone=set(data.get("same_tone") or ()),
                   mappings=dict(data.get("mappings") or {}), fillers=list(data.get("fillers") or ()))


def learn(texts: Iterable[str], tokenizer: jieba.Tokenizer, dictionary: Set[str], rules: Dict[str, Any],
          min_count: int = 5) -> NormaliserState:
    counts: Counter = Counter()
    for text in texts:
        counts.update(w for w in tokenizer.lcut(text, HMM=False) if _HAN_WORD.match(w))
    # `keep`: correct words that sound like a brand word (钱到 of 退的钱到了没 is not 签到)
    known = set(counts) | dictionary | {str(w) for w in rules.get("keep") or ()}
    # homophone targets: brand dictionary words first, then frequent training words
    targets = sorted((w for w in known if 2 <= len(w) <= MAX_SPAN and _HAN_WORD.match(w)
                      and (w in dictionary or counts[w] >= min_count)),
                     key=lambda w: (w not in dictionary, -counts[w], w))
    homophones: Dict[str, str] = {}
    for word in targets:
        homophones.setdefault(" ".join(main_reading(word)), word)
    # brand words are matched by syllables alone (积份 ji1 fen4 -> 积分 ji1 fen1);
    # everyday words only with the same tones too (不回 is not 不会)
    same_tone = {w for w in homophones.values() if w not in dictionary}
    mappings: Dict[str, str] = {}
    for section in ("typos", "dialect"):
        for typed, standard in (rules.get(section) or {}).items():
            typed, standard = str(typed), str(standard)
            if all(part in known for part in tokenizer.lcut(standard, HMM=False)):
                mappings[typed] = standard
            else:
                logger.info(f"normaliser: '{typed}' -> '{standard}' ignored, '{standard}' is not in the training data")
    fillers = sorted({str(f) for f in rules.get("fillers") or ()}, key=lambda f: (-len(f), f))
    return NormaliserState(known=known, homophones=homophones, same_tone=same_tone, mappings=mappings,
                           fillers=fillers)


class Normaliser:
    def __init__(self, state: NormaliserState, tokenizer: jieba.Tokenizer, common_freq: int = 50) -> None:
        self.state = state
        self.tokenizer = tokenizer
        self.common_freq = common_freq
        self._longest_mapping = max((len(k) for k in state.mappings), default=0)
        self._fillers = set(state.fillers)

    def normalise(self, text: str) -> str:
        text = self._apply_mappings(text)
        text = self._fix_homophones(text)
        return self._drop_fillers(text)

    # -- helpers ---------------------------------------------------------------
    def _tokens(self, text: str) -> List[str]:
        return self.tokenizer.lcut(text, HMM=False)

    @staticmethod
    def _boundaries(tokens: Sequence[str]) -> List[int]:
        return [0, *itertools.accumulate(len(t) for t in tokens)]

    def _apply_mappings(self, text: str) -> str:
        if not self.state.mappings:
            return text
        tokens = self._tokens(text)
        bounds = self._boundaries(tokens)
        edges = set(bounds)
        out, i = [], 0
        while i < len(text):
            if i in edges:
                for length in range(min(self._longest_mapping, len(text) - i), 0, -1):
                    source = text[i:i + length]
                    if source in self.state.mappings and i + length in edges:
                        out.append(self.state.mappings[source])
                        i += length
                        break
                else:
                    out.append(text[i])
                    i += 1
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _unknown(self, token: str) -> bool:
        """A token a homophone may replace: a single character, or a word neither
        the model nor jieba's dictionary knows well."""
        if len(token) == 1:
            return True
        return token not in self.state.known and self.tokenizer.FREQ.get(token, 0) < self.common_freq

    def _fix_homophones(self, text: str) -> str:
        if not self.state.homophones:
            return text
        tokens = self._tokens(text)
        out: List[str] = []
        i = 0
        while i < len(tokens):
            replaced = False
            for j in range(min(len(tokens), i + MAX_SPAN), i, -1):
                span = "".join(tokens[i:j])
                if not (2 <= len(span) <= MAX_SPAN) or not _HAN_WORD.match(span) or span in self.state.known:
                    continue
                if not all(self._unknown(t) for t in tokens[i:j]):
                    continue
                before = tokens[i - 1][-1:] if i > 0 else ""
                after = tokens[j][:1] if j < len(tokens) else ""
                target = self._homophone(span, before, after)
                if target:
                    out.append(target)
                    i = j
                    replaced = True
                    break
            if not replaced:
                out.append(tokens[i])
                i += 1
        return "".join(out)

    def _homophone(self, span: str, before: str, after: str) -> Optional[str]:
        """The word `span` is a typo of: same syllables, one character typed wrong
        (two in a 4-character word), and the wrong character not part of a word
        with its neighbour outside the span (原 in 会原路 belongs to 原路)."""
        for reading in readings(span):
            target = self.state.homophones.get(" ".join(reading))
            if not target or target == span or len(target) != len(span):
                continue
            if target in self.state.same_tone and main_reading(span, Style.TONE3) != main_reading(target, Style.TONE3):
                continue
            wrong = [i for i, (a, b) in enumerate(zip(span, target)) if a != b]
            if len(wrong) > max(1, len(span) // 2) or len(wrong) == len(span):
                continue
            if any(span[i] in PARTICLES for i in wrong):
                continue
            if (wrong[0] == 0 and self._is_word(before + span[0])) or \
               (wrong[-1] == len(span) - 1 and self._is_word(span[-1] + after)):
                continue
            return target
        return None

    def _is_word(self, pair: str) -> bool:
        return len(pair) == 2 and (pair in self.state.known or self.tokenizer.FREQ.get(pair, 0) >= self.common_freq)

    def _drop_fillers(self, text: str) -> str:
        if not self._fillers:
            return text
        tokens = self._tokens(text)
        kept = [t for t in tokens if t not in self._fillers]
        result = "".join(kept).strip()
        return result if _CONTENT.search(result) else text


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class TypoDialectNormaliser(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"dictionary_path": None, "rules_path": None, "min_count": 5, "common_freq": 50}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 state: Optional[NormaliserState] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._tokenizer = make_jieba_tokenizer(self.config["dictionary_path"])
        self.normaliser = Normaliser(state or NormaliserState(), self._tokenizer, int(self.config["common_freq"]))

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        """Retrain when the rules or the user dictionary change, not only the training data."""
        files = dictionary_files(config.get("dictionary_path"))
        if config.get("rules_path") and Path(config["rules_path"]).is_file():
            files.append(Path(config["rules_path"]))
        return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest() if files else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "TypoDialectNormaliser":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "TypoDialectNormaliser":
        try:
            with model_storage.read_from(resource) as model_dir:
                state = NormaliserState.from_json(read_json_file(model_dir / STATE_FILE))
        except (ValueError, FileNotFoundError):
            logger.warning(f"{cls.__name__}: nothing learnt in resource '{resource.name}', text stays as typed.")
            state = NormaliserState()
        return cls(config, model_storage, resource, state)

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if isinstance(m.get(TEXT), str)]
        state = learn(texts, self._tokenizer, dictionary_words(self.config["dictionary_path"]),
                      read_rules(self.config["rules_path"]), int(self.config["min_count"]))
        self.normaliser = Normaliser(state, self._tokenizer, int(self.config["common_freq"]))
        with self._model_storage.write_to(self._resource) as model_dir:
            dump_obj_as_json_to_file(model_dir / STATE_FILE, state.to_json())
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # entity offsets index into the text, so annotated examples keep theirs
        self.process([m for m in training_data.training_examples if not m.get(ENTITIES)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text:
                message.set(TEXT, self.normaliser.normalise(text))
        return messages
