"""Read toneless pinyin as Chinese before tokenising.

Consumers in WeChat often skip the input method's candidate list and send the
raw letters: nihao / youhuiquan zenme yong / chengfen在哪看 / baoyou ma. Our
training data is Chinese, so jieba and the character n-grams would see unknown
tokens. This component learns, from the training data itself, which Chinese
word each toneless pinyin spelling stands for (优惠券 <- youhuiquan) and
rewrites pinyin runs that can be spelled entirely with those words.

Only vocabulary seen in the training data is used, so a conversion always
lands on words the classifiers know. English (sample, shelf life, SF, vip,
ok, hello) is left alone: most of it cannot be spelt in pinyin syllables at
all; English that can rarely lines up with the words and character pairs of
our data (human = hu+man would be 护满, a pair never seen); the rest (like,
name, he, me) is held back by a small stop list.

    pipeline:
      - name: bot.nlu.simplified_chinese.SimplifiedChinese
      - name: bot.nlu.pinyin.PinyinToHanzi        # before JiebaTokenizer
        dictionary_path: data/jieba               # optional: jieba user dictionary
      - name: JiebaTokenizer

Training examples with entities keep their text (the entity offsets point into
it); at inference the text length may change.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Text, Tuple

import jieba
from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.pinyin_dict import pinyin_dict
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

logger = logging.getLogger(__name__)

VOCABULARY_FILE = "pinyin_vocabulary.json"

# One candidate word for a pinyin key: {"word": 西安, "syllables": [xi, an], "count": 3}
Entry = Dict[str, Any]
# key (syllables joined with no separator, "xian") -> candidate words, best first
PinyinMap = Dict[str, List[Entry]]

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_HAN_WORD = re.compile(f"^[{_HAN}]+$")
_HAN_RUN = re.compile(f"[{_HAN}]+")

# Homophones kept per pinyin key; enough for the character check in `segment`
# to find the right one, few enough to keep the search small.
MAX_CANDIDATES = 8

# A token is letters, optionally joined by apostrophes (xi'an); a run is
# tokens separated by spaces (you hui quan). Runs touching digits, _, @, ., /
# and similar are part of order numbers, URLs or e-mail addresses: not pinyin.
# The apostrophe checks stop a match from starting or ending inside a token
# (xi'an123 must not yield xi), while a quoted 'nihao' still matches.
_TOKEN = r"[A-Za-z]+(?:['’][A-Za-z]+)*"
_RUN = re.compile(
    rf"(?<![A-Za-z0-9_@./\\#&=%+\-:])(?<![A-Za-z0-9]['’])"
    rf"{_TOKEN}(?:[ \u3000]+{_TOKEN})*"
    rf"(?![A-Za-z0-9_@/\\#&=%+\-])(?!['’][A-Za-z0-9])(?!\.[A-Za-z0-9])"
)
_APOSTROPHES = re.compile(r"['’]")

# Readings pypinyin knows but no consumer types as a word (嗯 n, 呣 m, 哼 hng):
# allowing them would make English like "ten" = te+n look like pinyin.
_INTERJECTION_SYLLABLES = {"m", "n", "ng", "hm", "hng", "ê"}

# English, brand and chat words that are also valid pinyin spellings, plus the
# everyday ones the brief asked for even where they are not (ok, hi, SF...).
# Multi-syllable ones (like = li+ke, name = na+me) are never read as pinyin;
# single-syllable ones (you, he, me) only when a run has other pinyin in it
# ("you hui quan" converts, "how are you" does not).
ENGLISH_STOP_WORDS = frozenset("""
    ok okay hi hey hello bye yes no sf ems dhl ups vip app gpt ai pdf id
    iphone ipad mac wifi qq wechat

    a an ai he me she you ye ya yo die tie lie pie hang long men hen pen zen
    ben den ban can fan man pan ran tan dan bin pin min lin gun run sun song
    bang gang sang tang ping ding dong gong kong tao bao

    like name same game came make take cake lake bake wake shake nike bike
    mike made fade jade wade side ride tide dude rude site bite cute mute
    date gate hate late fate kate sure pure cure here are care share dare
    fare hare ware sale male tale size age page cage sage wage huge china
    panda banana data mango yoga guide dance chance change hence pence lance
    mine line nine pine shine one lane cane sane pane june tune dune gene
    see tee due cue hue sue nice dice face pace lace ace ate menu anime duke
    luke nuke tuna human mini range shade pike lina nina tina
""".split())


@functools.lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset:
    """Every toneless syllable pypinyin can produce (about 420), minus interjections."""
    syllables = {to_normal(reading) for readings in pinyin_dict.values() for reading in readings.split(",")}
    return frozenset(s for s in syllables if s.isascii() and s.isalpha()) - _INTERJECTION_SYLLABLES


def spells_pinyin(letters: str) -> bool:
    """True if lowercase `letters` split completely into valid pinyin syllables."""
    syllables = pinyin_syllables()
    reachable = [True] + [False] * len(letters)
    for end in range(1, len(letters) + 1):
        # pinyin syllables are at most 6 letters (zhuang, chuang, shuang)
        reachable[end] = any(reachable[start] and letters[start:end] in syllables
                             for start in range(max(0, end - 6), end))
    return reachable[-1]


# --- training: the vocabulary of the training data ------------------------------

@dataclass
class PinyinVocabulary:
    """What the converter may write, learnt from the training data.

    `words`: pinyin key (syllables joined, "youhuiquan") -> candidate words,
    best first. `bigrams`: pairs of Chinese characters seen next to each other
    in the data, the evidence that a string of single characters is Chinese.
    """

    words: PinyinMap = field(default_factory=dict)
    bigrams: FrozenSet[str] = frozenset()

    def to_json(self) -> Dict[str, Any]:
        return {"version": 1, "words": self.words, "bigrams": sorted(self.bigrams)}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "PinyinVocabulary":
        return cls(words=data.get("words") or {}, bigrams=frozenset(data.get("bigrams") or ()))


def dictionary_files(dictionary_path: Optional[str]) -> List[Path]:
    """`dictionary_path` is a user dictionary file or, like JiebaTokenizer's
    option, a directory whose files are all user dictionaries."""
    if not dictionary_path or not Path(dictionary_path).exists():
        return []
    path = Path(dictionary_path)
    return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]


def make_jieba_tokenizer(dictionary_path: Optional[str]) -> jieba.Tokenizer:
    """A private jieba tokenizer, so loading the user dictionary touches no global state."""
    tokenizer = jieba.Tokenizer()
    for file in dictionary_files(dictionary_path):
        tokenizer.load_userdict(str(file))
    return tokenizer


def count_words(texts: Iterable[str], tokenizer: jieba.Tokenizer) -> Counter:
    """Count (word, syllables) for every Chinese word and character in `texts`.

    Characters take their reading from the word they appear in (行 is hang in
    银行, xing in 行吗), which is more accurate than a reading in isolation.
    """
    counts: Counter = Counter()
    for text in texts:
        for word in tokenizer.lcut(text):
            if not _HAN_WORD.match(word):
                continue
            syllables = tuple(lazy_pinyin(word, style=Style.NORMAL))
            counts[(word, syllables)] += 1
            if len(word) > 1 and len(syllables) == len(word):
                for char, syllable in zip(word, syllables):
                    counts[(char, (syllable,))] += 1
    return counts


def han_bigrams(texts: Iterable[str]) -> FrozenSet[str]:
    """Every pair of adjacent Chinese characters in `texts` (优惠券 -> 优惠, 惠券)."""
    return frozenset(run[i:i + 2] for text in texts for run in _HAN_RUN.findall(text)
                     for i in range(len(run) - 1))


def build_pinyin_map(counts: Counter) -> PinyinMap:
    """Rank the words of each pinyin key, best first.

    Best = most frequent in the training data; ties -> longer word, then
    lexicographic, so the map does not depend on the order of the data. A
    key keeps its MAX_CANDIDATES best words (other homophones give the
    character check in `segment` something to choose from: wu is 物 in 物流
    but 无 in 无理由) plus the best word of every other way to split it into
    syllables (xian: 先, and 西安 for "xi'an"). Words with a syllable that is
    not valid pinyin are dropped here, so every word the converter can write
    is a valid syllable sequence.
    """
    valid = pinyin_syllables()
    by_key: Dict[str, List[Tuple[str, Tuple[str, ...], int]]] = {}
    for (word, syllables), count in counts.items():
        if syllables and all(s in valid for s in syllables):
            by_key.setdefault("".join(syllables), []).append((word, syllables, count))

    pinyin_map: PinyinMap = {}
    for key in sorted(by_key):
        ranked = sorted(by_key[key], key=lambda c: (-c[2], -len(c[0]), c[0]))
        splits_seen: Set[Tuple[str, ...]] = set()
        entries = []
        for rank, (word, syllables, count) in enumerate(ranked):
            if rank < MAX_CANDIDATES or syllables not in splits_seen:
                entries.append({"word": word, "syllables": list(syllables), "count": count})
            splits_seen.add(syllables)
        pinyin_map[key] = entries
    return pinyin_map


def learn_vocabulary(texts: Sequence[str], tokenizer: jieba.Tokenizer) -> PinyinVocabulary:
    return PinyinVocabulary(words=build_pinyin_map(count_words(texts, tokenizer)), bigrams=han_bigrams(texts))


# --- inference: pinyin run -> Chinese -------------------------------------------

def syllable_boundaries(syllables: Sequence[str]) -> Set[int]:
    """Letter offsets inside a word where one syllable ends and the next begins."""
    offsets, position = set(), 0
    for syllable in syllables[:-1]:
        position += len(syllable)
        offsets.add(position)
    return offsets


def joins(previous: Optional[str], word: str, typed_boundary: bool, bigrams: FrozenSet[str]) -> bool:
    """May `word` follow `previous` in the Chinese we write?

    Two words from the data may always meet, and so may any words the user
    separated with a space or apostrophe. Where a single character is glued
    to its neighbour inside one typed block, that pair of characters must
    occur in the data: English that happens to spell pinyin (human = hu+man,
    range = rang+e, mini = mi+ni) then finds no Chinese, while zaima (在吗)
    and wuliyou (无+理由) do.
    """
    if previous is None or typed_boundary or (len(previous) > 1 and len(word) > 1):
        return True
    return previous[-1] + word[0] in bigrams


# (number of words, junctions whose two characters never meet in the data,
#  -log of the product of the words' frequencies): lower is better
Cost = Tuple[int, int, float]


def segment(letters: str, forced: Set[int], vocabulary: PinyinVocabulary) -> Optional[List[str]]:
    """Spell `letters` entirely with words from the data, or return None.

    Fewest words first (prefer long words), then the fewest junctions never
    seen in the data (wo xiang wen: 想问, not 想温), then the most frequent words.
    `forced` are offsets where the user typed a space or apostrophe: a word
    may span one only if it falls between two of its syllables ("xi'an" is
    西安, not 先). Dynamic programming left to right; the state is the
    position plus the last word written, because `joins` looks at the last
    word. Candidates are tried in a fixed order and only a strictly better
    cost replaces a state, so equal inputs always give equal outputs.
    """
    n = len(letters)
    longest_key = max((len(key) for key in vocabulary.words), default=0)
    # best[i][last word] = (cost, previous position, previous last word)
    best: List[Dict[Optional[str], Tuple[Cost, int, Optional[str]]]] = [{} for _ in range(n + 1)]
    best[0][None] = ((0, 0, 0.0), -1, None)
    for start in range(n):
        for end in range(start + 1, min(n, start + longest_key) + 1):
            inner = {p - start for p in forced if start < p < end}
            for entry in vocabulary.words.get(letters[start:end], ()):
                if not inner <= syllable_boundaries(entry["syllables"]):
                    continue
                word = entry["word"]
                for previous, (cost, _, _) in list(best[start].items()):
                    if not joins(previous, word, start in forced, vocabulary.bigrams):
                        continue
                    unseen = previous is not None and previous[-1] + word[0] not in vocabulary.bigrams
                    new_cost = (cost[0] + 1, cost[1] + unseen, cost[2] - math.log(entry["count"]))
                    if word not in best[end] or new_cost < best[end][word][0]:
                        best[end][word] = (new_cost, start, previous)
    if not best[n]:
        return None
    word = min(best[n], key=lambda w: (best[n][w][0], w))
    words, position = [], n
    while word is not None:
        words.append(word)
        _, position, word = best[position][word]
    return words[::-1]


def token_letters(token: str) -> Tuple[str, Set[int]]:
    """Lowercase letters of a token and the offsets of its apostrophes (xi'an -> xian, {2})."""
    parts = _APOSTROPHES.split(token.lower())
    offsets, position = set(), 0
    for part in parts[:-1]:
        position += len(part)
        offsets.add(position)
    return "".join(parts), offsets


def is_acronym(token: str) -> bool:
    """SF, EMS, VIP, MAN: short all-capital tokens are abbreviations, not pinyin."""
    return token.isupper() and len(token) <= 4


def may_be_pinyin(token: str) -> bool:
    """Whether a single token could be part of a pinyin run at all."""
    letters, _ = token_letters(token)
    if is_acronym(token):
        return False
    if letters in ENGLISH_STOP_WORDS and letters not in pinyin_syllables():
        return False  # like, name, hello: English that spells several syllables, or none
    return all(spells_pinyin(part) for part in _APOSTROPHES.split(token.lower()))


class PinyinConverter:
    """Rewrites the pinyin runs of a text with the vocabulary of the training data."""

    def __init__(self, vocabulary: PinyinVocabulary, min_letters: int = 2) -> None:
        self.vocabulary = vocabulary
        self.min_letters = min_letters

    def convert(self, text: str) -> str:
        if not self.vocabulary.words or text.startswith("/"):
            return text  # "/intent{...}" payloads are read by the RegexMessageHandler as typed
        return _RUN.sub(lambda match: self._convert_run(match.group(0)), text)

    def _convert_run(self, run: str) -> str:
        """Convert each stretch of pinyin-looking tokens; keep the other tokens as typed.

        "ok wo yao qiandao" -> "ok 我要签到": `ok` cannot be pinyin and is kept;
        the stretch after it converts as a whole, and the spaces inside it go
        (Chinese has none). Spaces next to a kept token stay.
        """
        pieces = re.split(r"([ \u3000]+)", run)  # tokens at even indices, spaces at odd
        out: List[str] = []
        start = 0
        while start < len(pieces):
            end = start
            while end < len(pieces) and may_be_pinyin(pieces[end]):
                end += 2
            if end == start:
                out.append(pieces[start])  # not pinyin
                end = start + 2
            else:
                stretch = pieces[start:end - 1]
                hanzi = self._convert_stretch(stretch[0::2])
                if hanzi is not None:
                    logger.debug("pinyin %r read as %r", "".join(stretch), hanzi)
                out.append(hanzi if hanzi is not None else "".join(stretch))
            if end - 1 < len(pieces):
                out.append(pieces[end - 1])  # the space after the token or stretch
            start = end
        return "".join(out)

    def _convert_stretch(self, tokens: List[str]) -> Optional[str]:
        """Chinese for consecutive pinyin-looking tokens, all of them or nothing."""
        letters, forced = "", set()
        for token in tokens:
            if letters:
                forced.add(len(letters))  # the space between tokens
            token_text, apostrophes = token_letters(token)
            forced |= {len(letters) + offset for offset in apostrophes}
            letters += token_text
        if len(letters) < self.min_letters:
            return None
        if all(token_letters(t)[0] in ENGLISH_STOP_WORDS for t in tokens):
            return None  # "he", "you", "me a": English on its own, pinyin only among other pinyin
        words = segment(letters, forced, self.vocabulary)
        return "".join(words) if words else None


# --- the Rasa component -----------------------------------------------------------

@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class PinyinToHanzi(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"dictionary_path": None, "min_letters": 2}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[PinyinVocabulary] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.converter = PinyinConverter(vocabulary or PinyinVocabulary(), int(self.config["min_letters"]))

    @property
    def vocabulary(self) -> PinyinVocabulary:
        return self.converter.vocabulary

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        """Retrain when the user dictionary changes, not only the training data."""
        files = dictionary_files(config.get("dictionary_path"))
        return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest() if files else None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PinyinToHanzi":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PinyinToHanzi":
        try:
            with model_storage.read_from(resource) as model_dir:
                vocabulary = PinyinVocabulary.from_json(read_json_file(model_dir / VOCABULARY_FILE))
        except (ValueError, FileNotFoundError):
            # an untrained component converts nothing rather than failing the bot
            logger.warning(f"{cls.__name__}: no vocabulary in resource '{resource.name}', pinyin stays as typed.")
            vocabulary = PinyinVocabulary()
        return cls(config, model_storage, resource, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if isinstance(m.get(TEXT), str)]
        tokenizer = make_jieba_tokenizer(self.config["dictionary_path"])
        self.converter.vocabulary = learn_vocabulary(texts, tokenizer)
        with self._model_storage.write_to(self._resource) as model_dir:
            dump_obj_as_json_to_file(model_dir / VOCABULARY_FILE, self.vocabulary.to_json())
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # entity start/end offsets index into the text, so annotated examples keep it
        self.process([m for m in training_data.training_examples if not m.get(ENTITIES)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text:
                message.set(TEXT, self.converter.convert(text))
        return messages
