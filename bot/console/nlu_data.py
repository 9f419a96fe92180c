"""Read and edit the NLU training data for the ops console (issue 13).

Ops add, edit and delete intent examples, create FAQ keys and edit FAQ
answers without a developer. Developers still review every change as a git
diff, so the editor must touch nothing but the lines it means to change:

- Files are read and written with ruamel.yaml round-trip (comments, order,
  literal ``|`` blocks and quoting survive). A file whose unchanged round trip
  is not byte-identical is never written: its layout could not be kept.
- Every write goes through a save guard. The rendered text is re-parsed with
  a plain YAML loader (not the in-memory tree) and reduced to a multiset of
  facts: (file, intent, example), (file, response, answer), titles, comment
  lines and every other top-level block. The write is refused (`LossySave`)
  unless "after - before" is exactly the intended change, and also when the
  line diff is far larger than the change (a block re-emitted in another style).
- Writes are atomic (temp file + os.replace) and keep the file's line endings
  and trailing newline. Mutating methods return the changed paths, relative
  to the root as posix strings, for the caller to commit (bot/console/data_history.py).

Files this module reads (paths relative to `root`):
    data/nlu/*.yml            intent examples (Rasa 3.1 NLU format)
    data/responses/*.yml      retrieval answers, utter_faq/<key>, utter_chitchat/<key>
    actions/faq/titles.yml    "猜你想问" title of each FAQ key
    domain.yml                intents and entities (read only)
    data/brand/facts.yml      {fact:KEY} placeholders (read only)
    personas/*.yml            the {emoji_X} names (read only)
    data/jieba/               jieba user dictionaries (segment())

Messages of NluDataError are shown to ops and are therefore in Chinese.
The class is not async; an async caller runs mutations in an executor.
"""
from __future__ import annotations

import difflib
import hashlib
import io
import json
import math
import os
import re
import tempfile
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

NLU_DIR = "data/nlu"
RESPONSES_DIR = "data/responses"
TITLES_FILE = "actions/faq/titles.yml"
DOMAIN_FILE = "domain.yml"
FACTS_FILE = "data/brand/facts.yml"
PERSONAS_DIR = "personas"
JIEBA_DIR = "data/jieba"

RETRIEVAL_INTENTS = ("faq", "chitchat")
# Where a new example of an intent goes when no file holds it yet (and the
# first choice among those that do).
PREFERRED_FILE = {"faq": "data/nlu/faq.yml", "chitchat": "data/nlu/chitchat.yml", None: "data/nlu/intents.yml"}
FAQ_RESPONSES_FILE = "data/responses/faq.yml"

MAX_EXAMPLE_CHARS = 200
MAX_ANSWER_CHARS = 500
MAX_TITLE_CHARS = 60
MIN_EXAMPLES_PER_INTENT = 2   # the count create_faq asks for; delete keeps at least this many
MIN_FAQ_EXAMPLES = 2
# Near duplicate: cosine similarity of the sets of character bigrams of the
# normalised texts. 0.8 flags one added or changed character in a 4-6
# character question (多久发货 / 多久发货呀: 0.87) but not a shared topic word
# (多久发货 / 多久到货: 0.33).
NEAR_THRESHOLD = 0.8
MAX_NEAR_RESULTS = 20

FAQ_KEY = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
# Same grammar as rasa.shared.nlu.training_data.entities_parser.ENTITY_REGEX:
# [text](entity), [text](entity:value), [text]{"entity": ...}, [text][{...}, {...}]
ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
_SINGLE_ENTITY_DICT = re.compile(r"{(?P<entity_dict>[^}]+?)\}")
_ENTITY_DICT_KEYS = {"entity", "value", "role", "group"}
# Rasa strips these around each "- example" line (rasa_yaml.STRIP_SYMBOLS).
_STRIP = "\n\r "
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SIMPLE_PLACEHOLDERS = ("persona", "brand", "you", "signature", "self_intro")
DEFAULT_EMOJI = ("happy", "love", "sorry", "wave", "gift", "flower", "think")
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Span = Dict[str, Any]
Fact = Tuple[Any, ...]


class NluDataError(ValueError):
    """A refused edit; the message is for ops (Chinese)."""


class LossySave(NluDataError):
    """The rendered file would differ from the intended change; nothing was written."""


class DuplicateExample(NluDataError):
    """The example already exists; `conflicts` lists where."""

    def __init__(self, message: str, conflicts: Sequence[Dict[str, Any]] = ()) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


class Saved(list):
    """The changed paths (relative posix strings) plus warnings for ops
    (near-duplicate conflicts). Still a plain list for callers that only commit."""

    def __init__(self, paths: Iterable[str] = (), warnings: Sequence[Dict[str, Any]] = ()) -> None:
        super().__init__(paths)
        self.warnings = list(warnings)


# --------------------------------------------------------------------------- text helpers


def split_intent(intent: str) -> Tuple[Optional[str], Optional[str]]:
    """faq/shipping_fee -> ("faq", "shipping_fee"); greet -> (None, None)."""
    base, sep, key = intent.partition("/")
    if sep and base in RETRIEVAL_INTENTS:
        return base, key
    return None, None


def _entity_dicts(match: "re.Match[str]") -> List[Dict[str, Any]]:
    """The attribute dicts of one annotation, validated like Rasa's entity_dict schema."""
    groups = match.groupdict()
    if groups["entity"] is not None:
        attrs = {"entity": groups["entity"]}
        if groups["value"] is not None:
            attrs["value"] = groups["value"]
        return [attrs]
    raw = [groups["entity_dict"]] if groups["entity_dict"] is not None else [
        m.group("entity_dict") for m in _SINGLE_ENTITY_DICT.finditer(groups["list_entity_dicts"] or "")
    ]
    if not raw:
        raise NluDataError(f"实体标注写法不对：{match.group(0)}")
    dicts = []
    for body in raw:
        try:
            attrs = json.loads("{" + body + "}")
        except ValueError:
            raise NluDataError(f"实体标注写法不对（不是合法的 JSON）：{match.group(0)}") from None
        if (not isinstance(attrs, dict) or not isinstance(attrs.get("entity"), str)
                or set(attrs) - _ENTITY_DICT_KEYS or not all(isinstance(v, str) for v in attrs.values())):
            raise NluDataError(f"实体标注写法不对（需要 \"entity\"，可选 \"value\"/\"role\"/\"group\"）：{match.group(0)}")
        dicts.append(attrs)
    return dicts


def parse_example(text: str) -> Tuple[str, List[Dict[str, Any]]]:
    """(plain text, entities) of an annotated example, as Rasa reads it: entity
    offsets are in the plain text and `value` defaults to the entity's text."""
    plain: List[str] = []
    entities: List[Dict[str, Any]] = []
    pos = 0
    length = 0
    for match in ENTITY_REGEX.finditer(text):
        before = text[pos:match.start()]
        plain.append(before)
        length += len(before)
        words = match.group("entity_text")
        for attrs in _entity_dicts(match):
            entity = {"start": length, "end": length + len(words),
                      "value": attrs.get("value", words), "entity": attrs["entity"]}
            entity.update({k: attrs[k] for k in ("role", "group") if k in attrs})
            entities.append(entity)
        plain.append(words)
        length += len(words)
        pos = match.end()
    plain.append(text[pos:])
    return "".join(plain), entities


def strip_annotations(text: str) -> str:
    """The example as the consumer would type it (Rasa's replace_entities)."""
    return ENTITY_REGEX.sub(lambda m: m.group("entity_text"), text)


def normalise(text: str) -> str:
    """Comparison form: annotations stripped, NFKC, lower case, only letters and
    digits (whitespace, punctuation, symbols and emoji dropped)."""
    folded = unicodedata.normalize("NFKC", strip_annotations(text)).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def comparison_key(text: str) -> str:
    """normalise(), or for a text of only emoji and punctuation (👌, 。。。) that
    text without whitespace: else all such examples would be "duplicates"."""
    norm = normalise(text)
    if norm:
        return norm
    folded = unicodedata.normalize("NFKC", strip_annotations(text)).lower()
    return "".join(ch for ch in folded if not ch.isspace())


def bigrams(norm: str) -> Set[str]:
    """Character bigrams; a one-character text is its own single gram."""
    if len(norm) < 2:
        return {norm} if norm else set()
    return {norm[i:i + 2] for i in range(len(norm) - 1)}


def similarity(a: str, b: str) -> float:
    """Cosine similarity of the bigram sets of two texts (see NEAR_THRESHOLD)."""
    ga, gb = bigrams(comparison_key(a)), bigrams(comparison_key(b))
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / math.sqrt(len(ga) * len(gb))


def annotate(text: str, spans: Sequence[Span]) -> str:
    """Rasa markup for plain `text` with entity `spans` [{start, end, entity, value?}]
    (character offsets, end exclusive), as the page sends them when ops select
    text: [油皮](skin_type), or the dict form when a value differs from the text."""
    if ENTITY_REGEX.search(text):
        raise NluDataError("这句话里已经有实体标注了，请先去掉原来的标注再选")
    ordered = sorted(spans, key=lambda s: (int(s["start"]), int(s["end"])))
    out: List[str] = []
    pos = 0
    for span in ordered:
        start, end, entity = int(span["start"]), int(span["end"]), str(span.get("entity") or "")
        if not (0 <= start < end <= len(text)):
            raise NluDataError(f"实体的位置不对：{start}-{end}（句子长 {len(text)} 个字）")
        if start < pos:
            raise NluDataError("两个实体的范围重叠了，一段文字只能标一个实体")
        words = text[start:end]
        if not words.strip():
            raise NluDataError("不能把空格标成实体")
        if any(ch in words for ch in "[](){}"):
            raise NluDataError(f"实体文字里不能有括号：{words}")
        if not entity:
            raise NluDataError("请选择实体类型")
        value = span.get("value")
        out.append(text[pos:start])
        if value is None or str(value) == words:
            out.append(f"[{words}]({entity})")
        else:
            attrs = json.dumps({"entity": entity, "value": str(value)}, ensure_ascii=False)
            out.append(f"[{words}]{attrs}")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _bad_char(text: str) -> Optional[str]:
    """A character that would split the line for Rasa (str.splitlines) or that
    YAML cannot hold in a literal block."""
    for ch in text:
        if ch == "\ufeff" or unicodedata.category(ch) in ("Cc", "Cs", "Cn", "Zl", "Zp"):
            return ch
    return None


def _canon(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _is_example_line(line: str) -> bool:
    # Rasa's MULTILINE_TRAINING_EXAMPLE_LEADING_SYMBOL is "-".
    return line.startswith("-")


def _example_of(line: str) -> str:
    return line[1:].strip(_STRIP)


# --------------------------------------------------------------------------- the save guard's view


def snapshot(kind: str, rel: str, text: str) -> Counter:
    """The multiset of facts of one file, from a plain YAML parse of `text`.

    kind is "nlu", "responses", "titles" or anything else (whole file as one fact).
    Comment lines are counted from the text: the YAML loader drops them."""
    facts: Counter = Counter()
    for line in text.splitlines():
        if line.strip().startswith("#"):
            facts[("comment", rel, line.strip())] += 1
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise LossySave(f"保存被拦下：{rel} 写出来不是合法的 YAML（{exc}），文件没有改动，请联系开发同学") from None
    if kind == "nlu" and isinstance(data, dict):
        for key, value in data.items():
            if key != "nlu":
                facts[("top", rel, key, _canon(value))] += 1
        for item in data.get("nlu") or []:
            if isinstance(item, dict) and "intent" in item and isinstance(item.get("examples"), str):
                intent = item["intent"]
                facts[("block", rel, intent, _canon({k: v for k, v in item.items() if k != "examples"}))] += 1
                for line in item["examples"].splitlines():
                    if _is_example_line(line):
                        facts[("example", rel, intent, _example_of(line))] += 1
                    else:
                        facts[("line", rel, intent, line)] += 1
            else:  # synonym / regex / lookup / list-form examples: must survive as they are
                facts[("item", rel, _canon(item))] += 1
    elif kind == "responses" and isinstance(data, dict):
        for key, value in data.items():
            if key != "responses":
                facts[("top", rel, key, _canon(value))] += 1
        responses = data.get("responses")
        for key, items in (responses.items() if isinstance(responses, dict) else []):
            facts[("response", rel, key)] += 1
            for item in items if isinstance(items, list) else [items]:
                if isinstance(item, dict) and "text" in item:
                    facts[("answer", rel, key, _canon(item["text"]))] += 1
                    rest = {k: v for k, v in item.items() if k != "text"}
                    if rest:
                        facts[("answer_extra", rel, key, _canon(rest))] += 1
                else:
                    facts[("response_item", rel, key, _canon(item))] += 1
    elif kind == "titles" and isinstance(data, dict):
        for key, value in data.items():
            facts[("title", rel, str(key), _canon(value))] += 1
    else:
        facts[("file", rel, _canon(data))] += 1
    return facts


def _describe(fact: Fact) -> str:
    kind, rel = fact[0], fact[1]
    labels = {"example": "例句", "answer": "回答", "title": "标题", "comment": "注释",
              "block": "意图块", "response": "回复", "line": "块内的行"}
    return f"{rel} 的{labels.get(kind, kind)} " + " / ".join(str(part) for part in fact[2:])[:80]


# --------------------------------------------------------------------------- files


@dataclass
class _Example:
    intent: str
    text: str
    file: str
    block: int        # index in the file's `nlu` list
    line: int         # line index in the block's `examples` string
    editable: bool


@dataclass
class _Doc:
    rel: str
    path: Path
    kind: str         # nlu | responses | titles
    text: str
    stat: Tuple[int, int]
    yaml: YAML
    data: Any
    generated: bool
    examples: List[_Example] = field(default_factory=list)


def _sequence_offset(text: str) -> int:
    """Indent of "- " under its key ("nlu:\\n- intent" is 0, "  - intent" is 2),
    so the dump keeps the file's own style."""
    previous = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("- ") and previous is not None and previous[1].endswith(":"):
            return max(0, (len(line) - len(line.lstrip(" "))) - previous[0])
        previous = (len(line) - len(line.lstrip(" ")), stripped.split(" #")[0].rstrip())
    return 2


def _make_yaml(offset: int) -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 1 << 30          # never fold a long answer onto a second line
    rt.allow_unicode = True
    rt.indent(mapping=2, sequence=offset + 2, offset=offset)
    return rt


def _dump(rt: YAML, data: Any) -> str:
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


def _match_layout(rendered: str, original: str) -> str:
    """ruamel writes "\\n" and always a final newline: follow the original file."""
    if "\r\n" in original:
        rendered = rendered.replace("\r\n", "\n").replace("\n", "\r\n")
    newline = "\r\n" if "\r\n" in original else "\n"
    if original and not original.endswith(("\n", "\r")):
        rendered = rendered.rstrip("\r\n")
    elif not rendered.endswith(newline):
        rendered += newline
    return rendered


def _parseable(text: str) -> str:
    """The text ruamel is given: "\\n" line ends (it would keep a "\\r" inside
    comments) and a final newline (else the last literal block reads as "|-"
    and would be written back that way). _match_layout undoes both."""
    text = text.replace("\r\n", "\n")
    return text + "\n" if text and not text.endswith("\n") else text


def _read(path: Path) -> str:
    # newline="": keep "\r\n" as it is, so a CRLF file is written back as CRLF
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _stat(path: Path) -> Tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _plain_scalar(value: str) -> Any:
    """A string ruamel may write unquoted, quoted when a YAML 1.1 reader
    (PyYAML, the action server) would read the plain form as something else."""
    try:
        if yaml.load(f"k: {value}", Loader=_SAFE_LOADER) == {"k": value}:
            return value
    except yaml.YAMLError:
        pass
    return DoubleQuotedScalarString(value)


# --------------------------------------------------------------------------- comment slots
# ruamel keeps the blank lines and comments that follow a node on the last
# scalar inside it: a map's ca.items[key][2] or a seq's ca.items[index][0].


def _trailing_slot(node: Any) -> Optional[Tuple[Dict[Any, list], Any, int]]:
    if isinstance(node, CommentedMap) and len(node):
        key = list(node.keys())[-1]
        value = node[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
            return _trailing_slot(value)
        return node.ca.items, key, 2
    if isinstance(node, CommentedSeq) and len(node):
        index = len(node) - 1
        value = node[index]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
            return _trailing_slot(value)
        return node.ca.items, index, 0
    return None


def _get_trailing(node: Any) -> Optional[CommentToken]:
    slot = _trailing_slot(node)
    if slot is None:
        return None
    items, key, pos = slot
    entry = items.get(key)
    return entry[pos] if entry and len(entry) > pos else None


def _set_trailing(node: Any, token: Optional[CommentToken]) -> None:
    slot = _trailing_slot(node)
    if slot is None:
        return
    items, key, pos = slot
    entry = items.setdefault(key, [None, None, None, None] if pos == 2 else [None, None])
    while len(entry) <= pos:
        entry.append(None)
    entry[pos] = token


def _ends_in_block_scalar(node: Any) -> bool:
    """Whether the last scalar inside `node` is a literal block (then the token
    after it does not start with that line's own newline)."""
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        node = node[list(node.keys())[-1]] if isinstance(node, CommentedMap) else node[len(node) - 1]
    return isinstance(node, LiteralScalarString)


def _blank_line_after(node: Any) -> None:
    """Give `node` a blank line after it unless something (a blank line, a
    comment) already follows it. A block scalar already ended its own line."""
    if _get_trailing(node) is not None:
        return
    value = "\n" if _ends_in_block_scalar(node) else "\n\n"
    _set_trailing(node, CommentToken(value, CommentMark(0), None))


def _token_lines(token: Optional[CommentToken], block: bool) -> List[str]:
    """The blank and comment lines a trailing token stands for."""
    if token is None:
        return []
    content = token.value if block else token.value[1:]   # after a plain scalar: its own EOL first
    return content.split("\n")[:-1] if content.endswith("\n") else content.split("\n")


def _join_trailing(first: Optional[CommentToken], second: Optional[CommentToken],
                   first_block: bool, second_block: bool) -> Optional[CommentToken]:
    """One token for what followed two nodes, in order, when the node between
    them is removed; a blank line where both met is kept once, not twice."""
    head, tail = _token_lines(first, first_block), _token_lines(second, second_block)
    if head and tail and not head[-1].strip() and not tail[0].strip():
        tail = tail[1:]
    lines = head + tail
    if not lines:
        return None
    value = "".join(line + "\n" for line in lines)
    return CommentToken(value if first_block else "\n" + value, CommentMark(0), None)


# --------------------------------------------------------------------------- conflict index


class _ConflictIndex:
    """Exact (normalised text) and bigram inverted index over every example,
    built once per NluData and kept up to date on each write."""

    def __init__(self) -> None:
        self._count: Counter = Counter()                        # (intent, text) -> copies
        self._by_norm: Dict[str, Set[Tuple[str, str]]] = defaultdict(set)
        self._postings: Dict[str, Set[Tuple[str, str]]] = defaultdict(set)
        self._grams: Dict[Tuple[str, str], Tuple[str, Set[str]]] = {}

    def add(self, intent: str, text: str) -> None:
        key = (intent, text)
        self._count[key] += 1
        if self._count[key] > 1:
            return
        norm = comparison_key(text)
        grams = bigrams(norm)
        self._grams[key] = (norm, grams)
        self._by_norm[norm].add(key)
        for gram in grams:
            self._postings[gram].add(key)

    def remove(self, intent: str, text: str) -> None:
        key = (intent, text)
        if self._count[key] <= 0:
            return
        self._count[key] -= 1
        if self._count[key]:
            return
        del self._count[key]
        norm, grams = self._grams.pop(key)
        self._by_norm[norm].discard(key)
        for gram in grams:
            self._postings[gram].discard(key)

    def copies(self, intent: str, text: str) -> int:
        return self._count.get((intent, text), 0)

    def same_norm(self, text: str) -> Set[Tuple[str, str]]:
        return set(self._by_norm.get(comparison_key(text), ()))

    def conflicts(self, intent: str, text: str) -> List[Dict[str, Any]]:
        norm = comparison_key(text)
        found = [{"kind": "duplicate", "intent": other, "text": other_text, "score": 1.0}
                 for other, other_text in sorted(self._by_norm.get(norm, ())) if other != intent]
        grams = bigrams(norm)
        shared: Counter = Counter()
        for gram in grams:
            for key in self._postings.get(gram, ()):
                if key[0] != intent:
                    shared[key] += 1
        near = []
        for key, common in shared.items():
            other_norm, other_grams = self._grams[key]
            if other_norm == norm:
                continue
            score = common / math.sqrt(len(grams) * len(other_grams))
            if score >= NEAR_THRESHOLD:
                near.append({"kind": "near", "intent": key[0], "text": key[1], "score": round(score, 3)})
        near.sort(key=lambda c: (-c["score"], c["intent"], c["text"]))
        return found + near[:MAX_NEAR_RESULTS]


# --------------------------------------------------------------------------- jieba


def _dictionary_files(directory: Path) -> List[Path]:
    """Like bot.nlu.pinyin.dictionary_files: a file, or every file of a directory."""
    if not directory.exists():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else [directory]


@lru_cache(maxsize=4)
def _tokenizer(directory: str, signature: Tuple[Tuple[str, int, int], ...]) -> Any:
    """A private jieba.Tokenizer with the project's dictionaries, shared by all
    NluData instances of the same dictionary (`signature` changes when a file does)."""
    import jieba  # the console only pays for jieba when segment() is used

    tokenizer = jieba.Tokenizer()
    for name, _, _ in signature:
        tokenizer.load_userdict(str(Path(directory) / name))
    return tokenizer


# --------------------------------------------------------------------------- NluData


class NluData:
    """The NLU data of one checkout (or git worktree) at `root`."""

    def __init__(self, root: Union[str, Path]) -> None:
        self.root = Path(root).resolve()
        self._lock = threading.RLock()
        self._docs: Dict[str, _Doc] = {}
        self._index: Optional[_ConflictIndex] = None
        self._layout_ok: Dict[Tuple[str, str], bool] = {}
        self._readonly_stat: Dict[str, Optional[Tuple[int, int]]] = {}
        self._domain_intents: List[str] = []
        self._domain_entities: Set[str] = set()
        self._facts: Set[str] = set()
        self._emoji: Set[str] = set(DEFAULT_EMOJI)
        with self._lock:
            self._refresh()

    # ----------------------------------------------------------------- loading

    def _data_files(self) -> Dict[str, str]:
        files: Dict[str, str] = {}
        for directory, kind in ((NLU_DIR, "nlu"), (RESPONSES_DIR, "responses")):
            base = self.root / directory
            if base.is_dir():
                for path in sorted(base.iterdir()):
                    if path.is_file() and path.suffix in (".yml", ".yaml"):
                        files[f"{directory}/{path.name}"] = kind
        if (self.root / TITLES_FILE).is_file():
            files[TITLES_FILE] = "titles"
        return files

    def _load_doc(self, rel: str, kind: str, text: Optional[str] = None) -> _Doc:
        path = self.root / rel
        if text is None:
            text = _read(path)
        rt = _make_yaml(_sequence_offset(text))
        try:
            data = rt.load(_parseable(text))
        except Exception as exc:  # ruamel raises several unrelated error classes
            raise NluDataError(f"{rel} 不是合法的 YAML，请联系开发同学：{exc}") from None
        head = "\n".join(text.splitlines()[:5])
        doc = _Doc(rel=rel, path=path, kind=kind, text=text, stat=_stat(path), yaml=rt,
                   data=data if data is not None else CommentedMap(), generated="GENERATED" in head)
        if kind == "nlu":
            doc.examples = self._examples_of(doc)
        return doc

    def _examples_of(self, doc: _Doc) -> List[_Example]:
        found: List[_Example] = []
        items = doc.data.get("nlu") if isinstance(doc.data, dict) else None
        for b, item in enumerate(items or []):
            if not isinstance(item, dict) or "intent" not in item:
                continue
            intent = str(item["intent"])
            examples = item.get("examples")
            if isinstance(examples, str):
                for n, line in enumerate(examples.splitlines()):
                    if _is_example_line(line):
                        found.append(_Example(intent, _example_of(line), doc.rel, b, n, not doc.generated))
            elif isinstance(examples, list):  # list form with metadata: shown, not edited here
                for n, entry in enumerate(examples):
                    if isinstance(entry, dict) and entry.get("text"):
                        found.append(_Example(intent, str(entry["text"]).strip(_STRIP), doc.rel, b, n, False))
        return found

    def _refresh(self) -> None:
        """Reload what changed on disk since the last look (another editor, a git
        checkout): cheap when nothing did (one stat per file)."""
        wanted = self._data_files()
        for rel in list(self._docs):
            if rel not in wanted:
                self._drop_doc(rel)
        for rel, kind in wanted.items():
            doc = self._docs.get(rel)
            if doc is None or doc.stat != _stat(doc.path):
                fresh = self._load_doc(rel, kind)
                if doc is not None and fresh.text == doc.text:
                    doc.stat = fresh.stat
                    continue
                self._drop_doc(rel)
                self._docs[rel] = fresh
                if self._index is not None:
                    for ex in fresh.examples:
                        self._index.add(ex.intent, ex.text)
        self._load_readonly()

    def _drop_doc(self, rel: str) -> None:
        doc = self._docs.pop(rel, None)
        if doc is not None and self._index is not None:
            for ex in doc.examples:
                self._index.remove(ex.intent, ex.text)

    def _load_readonly(self) -> None:
        """domain.yml, facts and personas: re-read only when they change."""
        sources = [DOMAIN_FILE, FACTS_FILE] + sorted(
            f"{PERSONAS_DIR}/{p.name}" for p in (self.root / PERSONAS_DIR).glob("*.yml"))
        stats = {rel: (_stat(self.root / rel) if (self.root / rel).is_file() else None) for rel in sources}
        if stats == self._readonly_stat:
            return
        self._readonly_stat = stats

        def load(rel: str) -> Any:
            path = self.root / rel
            return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER) if path.is_file() else None

        domain = load(DOMAIN_FILE) or {}
        self._domain_intents = [next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or []]
        self._domain_entities = {next(iter(e)) if isinstance(e, dict) else str(e) for e in domain.get("entities") or []}
        self._facts = {str(k) for k in (load(FACTS_FILE) or {})}
        emoji = set(DEFAULT_EMOJI)
        for rel in sources[2:]:
            persona = load(rel) or {}
            emoji.update(str(k) for k in ((persona.get("tone") or {}).get("emoji") or {}))
        self._emoji = emoji

    def _conflict_index(self) -> _ConflictIndex:
        if self._index is None:
            index = _ConflictIndex()
            for doc in self._nlu_docs():
                for ex in doc.examples:
                    index.add(ex.intent, ex.text)
            self._index = index
        return self._index

    def _nlu_docs(self) -> List[_Doc]:
        # by path: a reloaded file must not move to the end of every listing
        return sorted((d for d in self._docs.values() if d.kind == "nlu"), key=lambda d: d.rel)

    def reload(self) -> None:
        """Pick up changes made on disk by someone else (every public call does this too)."""
        with self._lock:
            self._refresh()

    # ----------------------------------------------------------------- reading

    def titles(self) -> Dict[str, str]:
        with self._lock:
            self._refresh()
            return self._titles()

    def entities(self) -> List[str]:
        """The entities domain.yml declares (what an example's spans may be)."""
        with self._lock:
            self._refresh()
            return sorted(self._domain_entities)

    def check_answer(self, text: Any) -> str:
        """The answer as a save would store it, or NluDataError (what a save would refuse)."""
        return self._clean_answer(text)

    def _titles(self) -> Dict[str, str]:
        doc = self._docs.get(TITLES_FILE)
        return {str(k): str(v) for k, v in doc.data.items()} if doc and isinstance(doc.data, dict) else {}

    def intents(self) -> List[Dict[str, Any]]:
        """Every intent with examples, plus domain intents without any (count 0),
        sorted by name. `count` sums the examples of all files."""
        with self._lock:
            self._refresh()
            counts: Counter = Counter()
            files: Dict[str, List[str]] = defaultdict(list)
            for doc in self._nlu_docs():
                for ex in doc.examples:
                    counts[ex.intent] += 1
                    if doc.rel not in files[ex.intent]:
                        files[ex.intent].append(doc.rel)
            names = set(counts) | {i for i in self._domain_intents if i not in RETRIEVAL_INTENTS}
            titles = self._titles()
            result = []
            for name in sorted(names):
                retrieval, key = split_intent(name)
                result.append({
                    "name": name, "retrieval_intent": retrieval, "key": key,
                    "count": counts.get(name, 0), "files": files.get(name, []),
                    "title": titles.get(key) if retrieval == "faq" and key else None,
                })
            return result

    def examples(self, intent: str) -> List[Dict[str, Any]]:
        """The examples of `intent` in file order: text as written (with
        annotations), plain text, file, entities [{start, end, value, entity}]
        with offsets in `plain`, and whether the console may edit it."""
        with self._lock:
            self._refresh()
            result = []
            for ex in self._find(intent):
                try:
                    plain, entities = parse_example(ex.text)
                except NluDataError:   # a broken annotation in the file: show it as it is
                    plain, entities = strip_annotations(ex.text), []
                result.append({"text": ex.text, "plain": plain, "file": ex.file,
                               "entities": entities, "editable": ex.editable})
            return result

    def _find(self, intent: str) -> List[_Example]:
        return [ex for doc in self._nlu_docs() for ex in doc.examples if ex.intent == intent]

    def answers(self, response_key: str) -> List[str]:
        """The answer texts of utter_faq/<key> (also accepts faq/<key>)."""
        with self._lock:
            self._refresh()
            doc, key = self._response(response_key)
            return [str(item.get("text", "")) for item in doc.data["responses"][key]]

    def _response(self, response_key: str) -> Tuple[_Doc, str]:
        key = response_key if response_key.startswith("utter_") else f"utter_{response_key}"
        for doc in self._docs.values():
            if doc.kind == "responses" and isinstance(doc.data, dict):
                if key in (doc.data.get("responses") or {}):
                    return doc, key
        raise NluDataError(f"没有找到回复 {key}")

    def conflicts(self, intent: str, text: str) -> List[Dict[str, Any]]:
        """Examples of OTHER intents that `text` duplicates (kind "duplicate",
        equal after normalise()) or nearly duplicates (kind "near", bigram
        cosine >= NEAR_THRESHOLD), duplicates first, then by score."""
        with self._lock:
            self._refresh()
            return self._conflict_index().conflicts(intent, text)

    def segment(self, text: str) -> List[str]:
        """jieba words of the example's plain text with the project's user
        dictionaries (data/jieba), segmented like Rasa's JiebaTokenizer (HMM on)."""
        directory = self.root / JIEBA_DIR
        signature = tuple((p.name, *_stat(p)) for p in _dictionary_files(directory))
        tokenizer = _tokenizer(str(directory), signature)
        return [word for word, _, _ in tokenizer.tokenize(strip_annotations(text)) if word.strip()]

    # ----------------------------------------------------------------- validation

    def _clean_example(self, text: Any) -> str:
        if not isinstance(text, str):
            raise NluDataError("例句必须是文字")
        text = text.strip()
        if not text:
            raise NluDataError("例句不能为空")
        if len(text.splitlines()) > 1:
            raise NluDataError("例句只能写一行，一行一句")
        bad = _bad_char(text)
        if bad is not None:
            raise NluDataError(f"例句里有看不见的控制字符（U+{ord(bad):04X}），请删掉后再保存")
        plain, entities = parse_example(text)
        if len(plain) > MAX_EXAMPLE_CHARS:
            raise NluDataError(f"例句太长了：{len(plain)} 个字，最多 {MAX_EXAMPLE_CHARS} 个字")
        leftover = ENTITY_REGEX.sub("", text)
        if "[" in leftover or "]" in leftover:
            raise NluDataError("实体标注不完整：方括号没有配对，写法是 [油皮](skin_type)")
        for entity in entities:
            if entity["entity"] not in self._domain_entities:
                known = "、".join(sorted(self._domain_entities)) or "（无）"
                raise NluDataError(f"实体 {entity['entity']} 不在 domain.yml 的 entities 里（现有：{known}）")
        return text

    def _clean_answer(self, text: Any) -> str:
        if not isinstance(text, str):
            raise NluDataError("回答必须是文字")
        text = text.strip()
        if not text:
            raise NluDataError("回答不能为空")
        if len(text) > MAX_ANSWER_CHARS:
            raise NluDataError(f"回答太长了：{len(text)} 个字，最多 {MAX_ANSWER_CHARS} 个字")
        bad = _bad_char(text.replace("\n", ""))
        if bad is not None:
            raise NluDataError(f"回答里有看不见的控制字符（U+{ord(bad):04X}），请删掉后再保存")
        for match in _PLACEHOLDER.finditer(text):
            self._check_placeholder(match.group(1))
        leftover = _PLACEHOLDER.sub("", text)
        if "{" in leftover or "}" in leftover:
            raise NluDataError("回答里的大括号没有配对，占位符的写法是 {persona}、{fact:KEY}")
        return text

    def _check_placeholder(self, name: str) -> None:
        if name in _SIMPLE_PLACEHOLDERS:
            return
        if name.startswith("emoji_") and name[len("emoji_"):] in self._emoji:
            return
        if name.startswith("fact:"):
            if name[len("fact:"):] in self._facts:
                return
            raise NluDataError(f"回答里的 {{{name}}} 在 data/brand/facts.yml 里没有这个事实，请检查 KEY 是否写错")
        emoji = " ".join(f"{{emoji_{e}}}" for e in sorted(self._emoji))
        raise NluDataError(f"回答里的占位符 {{{name}}} 不认识。可以用：{{persona}} {{brand}} {{you}} {emoji} {{fact:KEY}}")

    def _clean_title(self, title: Any) -> str:
        if not isinstance(title, str) or not title.strip():
            raise NluDataError("标题不能为空")
        title = title.strip()
        if len(title.splitlines()) > 1 or _bad_char(title) is not None:
            raise NluDataError("标题只能写一行")
        if len(title) > MAX_TITLE_CHARS:
            raise NluDataError(f"标题太长了：{len(title)} 个字，最多 {MAX_TITLE_CHARS} 个字")
        return title

    def _check_new_example(self, intent: str, text: str, force: bool,
                           replacing: Optional[str] = None) -> List[Dict[str, Any]]:
        """Refuse a duplicate in the same intent (always) or, unless `force`, an
        exact duplicate in another one; return the warnings to show."""
        index = self._conflict_index()
        for other, other_text in sorted(index.same_norm(text)):
            if other != intent:
                continue
            if other_text == replacing and index.copies(intent, other_text) == 1:
                continue  # the example being edited
            files = "、".join(sorted({ex.file for ex in self._find(intent) if ex.text == other_text}))
            raise DuplicateExample(f"这条例句已经在 {intent} 里了（{files}：{other_text}）",
                                   [{"kind": "duplicate", "intent": intent, "text": other_text, "score": 1.0}])
        found = index.conflicts(intent, text)
        exact = [c for c in found if c["kind"] == "duplicate"]
        if exact and not force:
            raise DuplicateExample(f"这条例句已经在 {exact[0]['intent']} 里了（{exact[0]['text']}），"
                                   f"同一句话只能教给一个意图", found)
        return found

    def _check_intent(self, intent: str) -> None:
        if not isinstance(intent, str) or not intent.strip():
            raise NluDataError("请选择意图")
        if self._find(intent):
            return
        retrieval, key = split_intent(intent)
        if retrieval == "faq":
            raise NluDataError(f"FAQ {intent} 还不存在，请用「新建 FAQ」")
        raise NluDataError(f"意图 {intent} 还没有任何例句；新意图要开发同学配好规则和故事后才能在这里加例句")

    # ----------------------------------------------------------------- choosing a file

    def _editable_doc(self, file: str) -> _Doc:
        rel = file if "/" in file else f"{NLU_DIR}/{file}"
        doc = self._docs.get(rel)
        if doc is None or doc.kind != "nlu":
            raise NluDataError(f"没有这个训练数据文件：{file}")
        if doc.generated:
            raise NluDataError(f"{rel} 是自动生成的（make train 会重写它），请改商品目录或模板，不要直接改这个文件")
        return doc

    def _target_doc(self, intent: str) -> _Doc:
        """The preferred file (PREFERRED_FILE) if it holds the intent; else, of
        the editable files holding it, the one most dedicated to it (largest
        share of the file's examples, ties by name: capabilities.yml for
        inform_skin_type, not boundaries.yml); else the preferred file."""
        retrieval, _ = split_intent(intent)
        preferred = PREFERRED_FILE[retrieval]
        counts: Counter = Counter(ex.file for ex in self._find(intent) if ex.editable)
        if preferred in counts or not counts:
            return self._editable_doc(preferred)
        sizes = {rel: len(self._docs[rel].examples) for rel in counts}
        best = sorted(counts, key=lambda rel: (-counts[rel] / sizes[rel], rel))[0]
        return self._editable_doc(best)

    def _locate(self, intent: str, text: str, file: Optional[str]) -> _Example:
        matches = [ex for ex in self._find(intent) if ex.text == text]
        if not matches:  # the page may send the plain text of an annotated example
            matches = [ex for ex in self._find(intent) if strip_annotations(ex.text) == text.strip()]
        if file is not None:
            rel = file if "/" in file else f"{NLU_DIR}/{file}"
            matches = [ex for ex in matches if ex.file == rel]
        if not matches:
            raise NluDataError(f"{intent} 里没有这条例句：{text}")
        editable = [ex for ex in matches if ex.editable]
        if not editable:
            raise NluDataError(f"这条例句在 {matches[0].file} 里，是自动生成的或带元数据，控制台不能改，请联系开发同学")
        if len({ex.file for ex in editable}) > 1 or len({ex.text for ex in editable}) > 1:
            where = "、".join(sorted({ex.file for ex in editable}))
            raise NluDataError(f"这条例句在好几个地方都有（{where}），请指定要改哪个文件里的")
        return editable[0]

    # ----------------------------------------------------------------- tree edits

    @staticmethod
    def _set_lines(item: CommentedMap, lines: List[str], trailing_newline: bool) -> None:
        item["examples"] = LiteralScalarString("\n".join(lines) + ("\n" if trailing_newline else ""))

    @staticmethod
    def _lines(item: CommentedMap) -> Tuple[List[str], bool]:
        raw = str(item["examples"])
        return raw.splitlines(), raw.endswith("\n") or not raw

    def _append_example(self, doc: _Doc, intent: str, text: str) -> Counter:
        """Add the line to the file's first block of `intent`, or a new block at the end."""
        added: Counter = Counter({("example", doc.rel, intent, text): 1})
        seq = doc.data.get("nlu") if isinstance(doc.data, dict) else None
        if not isinstance(seq, CommentedSeq):
            raise NluDataError(f"{doc.rel} 里没有 nlu 列表，请联系开发同学")
        for item in seq:
            if isinstance(item, dict) and item.get("intent") == intent and isinstance(item.get("examples"), str):
                lines, trailing = self._lines(item)
                self._set_lines(item, lines + [f"- {text}"], trailing)
                return added
        block = CommentedMap()
        block["intent"] = intent
        block["examples"] = LiteralScalarString(f"- {text}\n")
        if len(seq) and self._separates_blocks(doc):
            _blank_line_after(seq[-1])
        seq.append(block)
        added[("block", doc.rel, intent, _canon({"intent": intent}))] += 1
        return added

    @staticmethod
    def _separates_blocks(doc: _Doc) -> bool:
        """Whether the file puts a blank line between its intent blocks."""
        return re.search(r"\n\s*\n *- intent:", doc.text) is not None

    def _remove_line(self, doc: _Doc, ex: _Example) -> Counter:
        removed: Counter = Counter({("example", doc.rel, ex.intent, ex.text): 1})
        seq = doc.data["nlu"]
        item = seq[ex.block]
        lines, trailing = self._lines(item)
        del lines[ex.line]
        if any(_is_example_line(line) for line in lines):
            self._set_lines(item, lines, trailing)
            return removed
        if any(line.strip() for line in lines):
            raise NluDataError(f"{doc.rel} 里 {ex.intent} 这一块只剩注释了，删掉会丢注释，请联系开发同学")
        self._remove_block(doc, ex.block)
        removed[("block", doc.rel, ex.intent,
                 _canon({k: v for k, v in item.items() if k != "examples"}))] += 1
        return removed

    @staticmethod
    def _remove_block(doc: _Doc, index: int) -> None:
        """Drop an emptied block, keeping the blank lines and comments that followed it."""
        seq = doc.data["nlu"]
        if len(seq) == 1:
            raise NluDataError(f"这是 {doc.rel} 里的最后一条例句，不能删空整个文件")
        token = _get_trailing(seq[index])
        if index == 0:
            if token is not None and token.value.strip():
                raise NluDataError(f"{doc.rel} 第一块后面有注释，删掉这条会弄丢注释，请联系开发同学")
            del seq[index]
            return
        previous = seq[index - 1]
        joined = _join_trailing(_get_trailing(previous), token,
                                _ends_in_block_scalar(previous), _ends_in_block_scalar(seq[index]))
        del seq[index]
        _set_trailing(previous, joined)

    # ----------------------------------------------------------------- saving

    def _render(self, doc: _Doc) -> str:
        """The text of `doc`'s tree as it would be written."""
        return _match_layout(_dump(doc.yaml, doc.data), doc.text)

    def _layout_preserved(self, doc: _Doc) -> bool:
        """An unchanged round trip of the file on disk gives the same bytes."""
        key = (doc.rel, hashlib.sha256(doc.text.encode("utf-8")).hexdigest())
        if key not in self._layout_ok:
            rt = _make_yaml(_sequence_offset(doc.text))
            self._layout_ok[key] = _match_layout(_dump(rt, rt.load(_parseable(doc.text))), doc.text) == doc.text
        return self._layout_ok[key]

    def _save(self, docs: Sequence[_Doc], added: Counter, removed: Counter,
              warnings: Sequence[Dict[str, Any]] = ()) -> Saved:
        """Guard, then write `docs` atomically; on any refusal reload them from disk
        so the in-memory trees forget the edit."""
        try:
            rendered = self._guard(docs, added, removed)
            self._write_all(docs, rendered)
        except BaseException:
            for doc in docs:
                self._drop_doc(doc.rel)
            try:
                self._refresh()
            except NluDataError:
                pass  # the refusal matters more; the next call reloads again
            raise
        for doc in docs:
            self._drop_doc(doc.rel)
            text = rendered[doc.rel]
            fresh = self._load_doc(doc.rel, doc.kind, text)
            self._docs[doc.rel] = fresh
            # the next save of this file needs this check; the tree is at hand now
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            self._layout_ok[(doc.rel, digest)] = _match_layout(_dump(fresh.yaml, fresh.data), text) == text
            if self._index is not None:
                for ex in fresh.examples:
                    self._index.add(ex.intent, ex.text)
        return Saved(sorted(doc.rel for doc in docs), warnings)

    def _guard(self, docs: Sequence[_Doc], added: Counter, removed: Counter) -> Dict[str, str]:
        before: Counter = Counter()
        after: Counter = Counter()
        rendered: Dict[str, str] = {}
        changed_lines = 0
        for doc in docs:
            on_disk = _read(doc.path) if doc.path.exists() else ""
            if on_disk != doc.text:
                raise NluDataError(f"{doc.rel} 刚被别人改过了，请刷新页面后再改一次")
            if not self._layout_preserved(doc):
                raise LossySave(f"保存被拦下：{doc.rel} 的排版没法原样保留，控制台不改这个文件，请联系开发同学")
            text = self._render(doc)
            rendered[doc.rel] = text
            before += snapshot(doc.kind, doc.rel, doc.text)
            after += snapshot(doc.kind, doc.rel, text)
            matcher = difflib.SequenceMatcher(None, doc.text.splitlines(), text.splitlines(), autojunk=False)
            changed_lines += sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes()
                                 if tag != "equal")
        lost, extra = (before - after) - removed, (after - before) - added
        missing_removal, missing_addition = removed - (before - after), added - (after - before)
        problems = list(lost) + list(extra) + list(missing_removal) + list(missing_addition)
        if problems:
            detail = "；".join(_describe(f) for f in problems[:3])
            raise LossySave(f"保存被拦下：写出来的文件和要做的修改对不上（{detail}），文件没有改动，请联系开发同学")
        # A line per changed fact, plus a new block's header and blank line: a
        # much larger diff means a block was re-emitted in another style.
        budget = 3 * (sum(added.values()) + sum(removed.values())) + 2
        if changed_lines > budget:
            raise LossySave(f"保存被拦下：这次修改会改动 {changed_lines} 行排版，文件没有改动，请联系开发同学")
        return rendered

    @staticmethod
    def _write_all(docs: Sequence[_Doc], rendered: Dict[str, str]) -> None:
        """Temp files first, then os.replace each; if a replace fails, put back
        the files already replaced so a multi-file change is all or nothing."""
        temps: List[Tuple[_Doc, str]] = []
        try:
            for doc in docs:
                doc.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{doc.path.name}.", suffix=".tmp", dir=doc.path.parent)
                temps.append((doc, tmp))
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                    handle.write(rendered[doc.rel])
                    handle.flush()
                    os.fsync(handle.fileno())
                if doc.path.exists():
                    os.chmod(tmp, doc.path.stat().st_mode & 0o7777)
            done: List[_Doc] = []
            try:
                for doc, tmp in temps:
                    os.replace(tmp, doc.path)
                    done.append(doc)
            except BaseException:
                for doc in done:
                    doc.path.write_text(doc.text, encoding="utf-8", newline="")
                raise
        finally:
            for _, tmp in temps:
                if os.path.exists(tmp):
                    os.unlink(tmp)

    # ----------------------------------------------------------------- editing examples

    def add_example(self, intent: str, text: str, file: Optional[str] = None, force: bool = False) -> Saved:
        """Add an example (Rasa markup allowed). Without `file`, it goes to the
        file chosen by _target_doc. An exact duplicate of another intent's example
        needs `force`; near duplicates come back in `.warnings`."""
        with self._lock:
            self._refresh()
            self._check_intent(intent)
            text = self._clean_example(text)
            warnings = self._check_new_example(intent, text, force)
            doc = self._editable_doc(file) if file is not None else self._target_doc(intent)
            added = self._append_example(doc, intent, text)
            return self._save([doc], added, Counter(), warnings)

    def edit_example(self, intent: str, old: str, new: str, file: Optional[str] = None,
                     force: bool = False) -> Saved:
        """Replace one example's line in place (`file` picks it when several hold it)."""
        with self._lock:
            self._refresh()
            ex = self._locate(intent, old, file)
            new = self._clean_example(new)
            if new == ex.text:
                return Saved()
            warnings = self._check_new_example(intent, new, force, replacing=ex.text)
            doc = self._docs[ex.file]
            item = doc.data["nlu"][ex.block]
            lines, trailing = self._lines(item)
            lines[ex.line] = f"- {new}"
            self._set_lines(item, lines, trailing)
            return self._save([doc], Counter({("example", doc.rel, intent, new): 1}),
                              Counter({("example", doc.rel, intent, ex.text): 1}), warnings)

    def delete_example(self, intent: str, text: str, file: Optional[str] = None) -> Saved:
        """Delete one example; a block left empty is removed. An intent keeps at
        least MIN_EXAMPLES_PER_INTENT examples."""
        with self._lock:
            self._refresh()
            ex = self._locate(intent, text, file)
            remaining = len(self._find(intent)) - 1
            if remaining < MIN_EXAMPLES_PER_INTENT:
                raise NluDataError(f"{intent} 删掉这条后只剩 {remaining} 条例句，至少要保留 {MIN_EXAMPLES_PER_INTENT} 条")
            doc = self._docs[ex.file]
            removed = self._remove_line(doc, ex)
            return self._save([doc], Counter(), removed)

    # ----------------------------------------------------------------- FAQ keys and answers

    def create_faq(self, key: str, title: str, examples: Sequence[str], answers: Sequence[str],
                   force: bool = False) -> Saved:
        """A new FAQ key: the faq/<key> block in data/nlu/faq.yml, utter_faq/<key>
        in data/responses/faq.yml and its title in actions/faq/titles.yml, in one
        all-or-nothing save. (domain.yml already registers the `faq` intent.)"""
        with self._lock:
            self._refresh()
            if not isinstance(key, str) or not FAQ_KEY.match(key):
                raise NluDataError("FAQ 键只能用小写字母开头，由小写字母、数字和下划线组成，2-41 个字符，例如 gift_wrap")
            intent, response = f"faq/{key}", f"utter_faq/{key}"
            if self._find(intent) or key in self._titles() or self._has_response(response):
                raise NluDataError(f"FAQ 键 {key} 已经存在了，请换一个，或者去编辑现有的")
            title = self._clean_title(title)
            texts = [self._clean_example(t) for t in examples]
            seen: Dict[str, int] = {}
            for n, text in enumerate(texts, 1):
                norm = comparison_key(text)
                if norm in seen:
                    raise NluDataError(f"第 {n} 条例句和第 {seen[norm]} 条重复了")
                seen[norm] = n
            if len(texts) < MIN_FAQ_EXAMPLES:
                raise NluDataError(f"新 FAQ 至少要 {MIN_FAQ_EXAMPLES} 条例句")
            replies = self._clean_answers(answers)
            warnings: List[Dict[str, Any]] = []
            for text in texts:
                warnings += self._check_new_example(intent, text, force)

            nlu = self._editable_doc(PREFERRED_FILE["faq"])
            responses = self._responses_doc_for_faq()
            titles = self._docs.get(TITLES_FILE)
            if titles is None:
                raise NluDataError(f"没有找到 {TITLES_FILE}")
            added: Counter = Counter()
            for text in texts:
                added += self._append_example(nlu, intent, text)
            added += self._append_response(responses, response, replies)
            added[("title", titles.rel, key, _canon(title))] += 1
            titles.data[key] = _plain_scalar(title)
            return self._save([nlu, responses, titles], added, Counter(), warnings)

    def _has_response(self, key: str) -> bool:
        try:
            self._response(key)
            return True
        except NluDataError:
            return False

    def _responses_doc_for_faq(self) -> _Doc:
        doc = self._docs.get(FAQ_RESPONSES_FILE)
        if doc is None:
            raise NluDataError(f"没有找到 {FAQ_RESPONSES_FILE}")
        if not isinstance(doc.data.get("responses"), dict):
            raise NluDataError(f"{FAQ_RESPONSES_FILE} 里没有 responses，请联系开发同学")
        return doc

    def _clean_answers(self, answers: Sequence[str]) -> List[str]:
        if isinstance(answers, str):
            answers = [answers]
        replies = [self._clean_answer(a) for a in answers]
        if not replies:
            raise NluDataError("至少要写一条回答")
        for n, reply in enumerate(replies):
            if reply in replies[:n]:
                raise NluDataError(f"第 {n + 1} 条回答和前面的重复了")
        return replies

    def _append_response(self, doc: _Doc, key: str, replies: List[str]) -> Counter:
        mapping = doc.data["responses"]
        if len(mapping) and re.search(r"\n\s*\n  \S", doc.text):
            _blank_line_after(mapping[list(mapping.keys())[-1]])
        seq = CommentedSeq()
        for reply in replies:
            seq.append(CommentedMap([("text", DoubleQuotedScalarString(reply))]))
        mapping[key] = seq
        added: Counter = Counter({("response", doc.rel, key): 1})
        for reply in replies:
            added[("answer", doc.rel, key, _canon(reply))] += 1
        return added

    def set_answers(self, response_key: str, answers: Sequence[str]) -> Saved:
        """Replace the answers of utter_faq/<key> (or any response under
        data/responses/), position by position so unchanged answers keep their lines."""
        with self._lock:
            self._refresh()
            doc, key = self._response(response_key)
            replies = self._clean_answers(answers)
            seq = doc.data["responses"][key]
            if not isinstance(seq, list) or any(not isinstance(i, dict) or set(i) != {"text"} for i in seq):
                raise NluDataError(f"{key} 带有按钮、图片或条件，控制台只能改纯文字回答，请联系开发同学")
            old = [str(item["text"]) for item in seq]
            if old == replies:
                return Saved()
            tail = _get_trailing(seq)   # the blank line / comment before the next response
            _set_trailing(seq, None)
            for n, reply in enumerate(replies):
                if n < len(seq):
                    if old[n] != reply:
                        seq[n]["text"] = DoubleQuotedScalarString(reply)
                else:
                    seq.append(CommentedMap([("text", DoubleQuotedScalarString(reply))]))
            while len(seq) > len(replies):
                del seq[len(seq) - 1]
            _set_trailing(seq, tail)
            added = Counter(("answer", doc.rel, key, _canon(r)) for r in replies)
            removed = Counter(("answer", doc.rel, key, _canon(r)) for r in old)
            return self._save([doc], added - removed, removed - added)
