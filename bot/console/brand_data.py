"""Brand facts and persona profiles, read and edited by the ops console (issue 13).

Ops change a brand fact (满多少包邮, 客服时间 …) or a persona's voice without a
developer, and the running bot speaks the change within a second: bot.persona
re-reads a file whose stat changed (no restart, no retraining). Developers still
review every change as a git diff, so the editor touches only the lines it means
to change:

- Files are edited with ruamel.yaml round-trip (comments, order, quoting kept).
  A file whose unchanged round trip is not byte-identical is never written.
- Every write is checked before it happens: the new text is re-parsed with the
  plain YAML loader the bot uses (PyYAML) and must equal the intended data
  exactly (no other key lost or changed), and every full-line comment must
  still be there. A persona draft also goes through bot.persona's loader.
- Writes are atomic (temp file + os.replace). Mutating methods return the
  changed paths, relative to the root as posix strings, for the caller to commit.

Files (relative to `root`):
    data/brand/facts.yml      flat `key: value` brand facts, used as {fact:KEY}
    personas/<id>.yml         persona profiles (bot/persona.py)
    domain.yml, data/responses/*.yml   responses (read only: usages, preview)

Messages of BrandDataError are shown to ops and are therefore in Chinese.
The class is not async; an async caller runs mutations in an executor.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import io
import json
import math
import os
import re
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from bot import persona as persona_mod
from bot.persona import Persona, persona_from_dict, render_text

FACTS_FILE = "data/brand/facts.yml"
PERSONA_DIR = "personas"
RESPONSES_DIR = "data/responses"
DOMAIN_FILE = "domain.yml"

FACT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_FACT_CHARS = 300
MAX_TEXT_CHARS = 1000
_FACT_REF = re.compile(r"\{fact:([a-z0-9_]+)\}")
_ANY_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PERSONA_PLACEHOLDER = re.compile(r"^(persona|brand|you|signature|self_intro|emoji_[a-z]+|fact:[a-z0-9_]+)$")
_EMOJI_NAME = re.compile(r"^[a-z]+$")
_SECTION = re.compile(r"^#\s*-{2,}\s*(.*?)\s*-{2,}\s*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")

# Facts the code reads itself (not only through {fact:KEY}).
CODE_FACTS = {"brand_name": "代码（{brand} 占位符、网页上显示的品牌名，bot/persona.py）"}

# Values the callers fill into system texts after the persona (bot/handoff/worker.py,
# bot/outbound/worker.py);
# any other placeholder left in a system text would reach the customer as is.
SYSTEM_TEXT_VALUES = {
    "handoff_guide_joined": ("guide",),
    "handoff_back": ("guide",),
    "handoff_taken_back": ("position",),
    "outbound_prize_shipped": ("prize", "carrier", "tracking"),
    "outbound_checkin_reminder": ("streak",),
    "outbound_coupon_expiring": ("coupon", "code", "when"),
    "outbound_referral_joined": ("count",),
    "outbound_referral_rewarded": ("count", "reward"),
    "outbound_restock": ("product",),
    "outbound_camp_tip": ("camp", "day", "tip"),
}

# The persona file's fields (bot/persona.py reads exactly these); labels for the console's form.
PERSONA_FIELDS: Dict[str, str] = {
    "id": "编号（与文件名相同，不可修改）",
    "name": "名字",
    "avatar": "头像地址",
    "self_intro": "自我介绍",
    "tone.you": "对顾客的称呼",
    "tone.emoji": "表情（每种场合一个，可留空）",
    "tone.exclaim": "句末感叹号换成",
    "signature_phrases": "口头禅",
    "system_texts": "系统话术（故障道歉、转人工等）",
    "responses": "专属回复（与 domain 回复同名时替换原话术）",
}
_TOP_FIELDS = {"id", "name", "avatar", "self_intro", "tone", "signature_phrases", "system_texts", "responses"}
_TONE_FIELDS = {"you", "emoji", "exclaim"}
_VARIANT_FIELDS = {"text", "buttons", "image", "channel", "condition"}

_GREETINGS = ("utter_greet", "utter_greet_member", "utter_goodbye", "utter_bot_challenge", "utter_thanks")
_SAMPLE_CONTEXT = {"guide": "{guide}", "position": "{position}"}


class BrandDataError(ValueError):
    """A refused edit; the message (Chinese) is for ops."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)


class LossySave(BrandDataError):
    """The rendered file would change more than the edit meant to."""


# --------------------------------------------------------------------------- YAML

_LAYOUTS = ((2, 4, 2), (2, 2, 0))
_ESCAPED_SUPPLEMENTARY = re.compile(r"(?<!\\)((?:\\\\)*)\\U([0-9A-Fa-f]{8})")


def _make_yaml(layout: Tuple[int, int, int]) -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.allow_unicode = True
    rt.indent(mapping=layout[0], sequence=layout[1], offset=layout[2])
    return rt


def _dump(rt: YAML, data: Any) -> str:
    out = io.StringIO()
    rt.dump(data, out)
    # ruamel escapes emoji outside the BMP in double-quoted strings ("\U0001F642"); the
    # files hold them as characters. (The save check re-parses: a wrong guess cannot pass.)
    return _ESCAPED_SUPPLEMENTARY.sub(lambda m: m.group(1) + chr(int(m.group(2), 16)), out.getvalue())


def _plain_yaml(text: str) -> Any:
    """What the bot sees (bot.persona reads with PyYAML)."""
    return yaml.safe_load(text)


def _quoted_like(value: str, like: Any = None) -> Any:
    """`value` as a scalar of the same quoting style as `like`, quoted when the
    bot's YAML 1.1 loader would not read it back as this string."""
    if isinstance(like, DoubleQuotedScalarString):
        return DoubleQuotedScalarString(value)
    if isinstance(like, SingleQuotedScalarString):
        return SingleQuotedScalarString(value)
    try:
        plain_ok = yaml.safe_load(value) == value
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok else DoubleQuotedScalarString(value)


def _to_rt(value: Any, like: Any = None) -> Any:
    """A plain value as ruamel nodes (so comments can be attached); strings styled like `like`."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        sample = next(iter(like.values()), None) if isinstance(like, Mapping) and like else None
        for k, v in value.items():
            node[k] = _to_rt(v, sample)
        return node
    if isinstance(value, (list, tuple)):
        node = CommentedSeq()
        sample = like[0] if isinstance(like, list) and like else None
        for v in value:
            node.append(_to_rt(v, sample))
        return node
    if isinstance(value, str):
        return _quoted_like(value, like)
    return value


# Comments: ruamel keeps the comment lines that follow a line on the last scalar
# before them (`# --- Invoice ---` belongs to the key above it). Removing or
# inserting an item moves those lines so that they stay where they were.

def _slot(node: Any, key: Any) -> Tuple[Dict[Any, list], Any, int]:
    """Where the comment after the item `key` of `node` (with all its lines) lives."""
    value = node[key]
    if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
        last = list(value.keys())[-1] if isinstance(value, CommentedMap) else len(value) - 1
        return _slot(value, last)
    return node.ca.items, key, 2 if isinstance(node, CommentedMap) else 0


def _get_token(slot: Tuple[Dict[Any, list], Any, int]) -> Optional[CommentToken]:
    items, key, index = slot
    entry = items.get(key)
    return entry[index] if entry and len(entry) > index else None


def _set_token(slot: Tuple[Dict[Any, list], Any, int], token: Optional[CommentToken]) -> None:
    items, key, index = slot
    entry = items.setdefault(key, [None, None, None, None])
    while len(entry) <= index:
        entry.append(None)
    entry[index] = token
    if not any(entry):
        del items[key]


def _split_token(token: Optional[CommentToken]) -> Tuple[Optional[CommentToken], str]:
    """(end-of-line comment of the item, the lines after it)."""
    if token is None:
        return None, ""
    value = token.value
    first, _, rest = value.partition("\n")
    if first.strip().startswith("#"):
        own = CommentToken(first + "\n", CommentMark(token.start_mark.column))
        return own, rest
    return None, rest


def _join(own: Optional[CommentToken], rest: str) -> Optional[CommentToken]:
    if not rest:
        return own
    if own is None:
        return CommentToken("\n" + rest, CommentMark(0))
    return CommentToken(own.value + rest, CommentMark(own.start_mark.column))


def _keys(node: Any) -> List[Any]:
    return list(node.keys()) if isinstance(node, CommentedMap) else list(range(len(node)))


def _remove(node: Any, key: Any, top: Optional[CommentedMap] = None) -> None:
    """Delete item `key` of `node`; the comment lines after it stay in place."""
    keys = _keys(node)
    pos = keys.index(key)
    _, rest = _split_token(_get_token(_slot(node, key)))
    if rest:
        if pos > 0:
            prev = _slot(node, keys[pos - 1])
            own, prev_rest = _split_token(_get_token(prev))
            _set_token(prev, _join(own, prev_rest + rest))
        elif node is top:
            before = top.ca.comment if top.ca.comment else [None, []]
            if before[1] is None:
                before[1] = []
            lines = [line + "\n" for line in rest.split("\n")[:-1]]
            before[1].extend(CommentToken(line, CommentMark(0)) for line in lines)
            top.ca.comment = before
        # else: nowhere to keep them; the comment check refuses the save
    if isinstance(node, CommentedMap):
        node.ca.items.pop(key, None)
        del node[key]
    else:
        _set_token((node.ca.items, key, 0), None)
        del node[key]


def _insert_after(node: Any, after: Any, key: Any, value: Any) -> None:
    """Insert `value` after item `after` (None: at the start) of `node`; for a
    sequence `key` is ignored. The comment lines after `after` follow the new item."""
    keys = _keys(node)
    pos = keys.index(after) + 1 if after is not None else 0
    rest = ""
    if after is not None:
        prev = _slot(node, after)
        own, rest = _split_token(_get_token(prev))
        _set_token(prev, own)
    if isinstance(node, CommentedMap):
        node.insert(pos, key, value)
        new_key = key
    else:
        node.insert(pos, value)
        new_key = pos
    if rest:
        new = _slot(node, new_key)
        own, _ = _split_token(_get_token(new))
        _set_token(new, _join(own, rest))


def _comment_lines(text: str) -> Counter:
    return Counter(line.strip() for line in text.splitlines() if line.strip().startswith("#"))


def _canon(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)


def _same(a: Any, b: Any, ordered: bool = True) -> bool:
    """Equal data, scalar types included (1 and "1" differ); key order too if `ordered`."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if ordered and list(a.keys()) != list(b.keys()):
            return False
        return set(a.keys()) == set(b.keys()) and all(_same(a[k], b[k], ordered) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, ordered) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _merge(old: Any, new: Any) -> Any:
    """`new` written into the ruamel tree `old` with as few node changes as possible."""
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        for key in [k for k in old.keys() if k not in new]:
            _remove(old, key)
        previous = None
        for key, value in new.items():
            if key in old:
                merged = _merge(old[key], value)
                if merged is not old[key]:
                    old[key] = merged
            else:
                sample = old[previous] if previous is not None else None
                _insert_after(old, previous, key, _to_rt(value, sample))
            previous = key
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, (list, tuple)):
        matcher = difflib.SequenceMatcher(a=[_canon(x) for x in old], b=[_canon(x) for x in new], autojunk=False)
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            if tag == "equal":
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                for offset in range(i2 - i1):
                    merged = _merge(old[i1 + offset], new[j1 + offset])
                    if merged is not old[i1 + offset]:
                        old[i1 + offset] = merged
                continue
            sample = old[i1] if i1 < len(old) else (old[i1 - 1] if i1 else None)
            for index in range(i2 - 1, i1 - 1, -1):
                _remove(old, index)
            for offset, item in enumerate(new[j1:j2]):
                _insert_after(old, i1 + offset - 1 if i1 + offset else None, None, _to_rt(item, sample))
        return old
    if _same(_plain(old), new):
        return old
    if isinstance(new, str):
        return _quoted_like(new, old)
    return _to_rt(new, old)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _strings(value: Any, where: str = "") -> Iterator[Tuple[str, str]]:
    """(dotted location, text) of every string in a parsed YAML value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i + 1}]")
    elif isinstance(value, str):
        yield where, value


# --------------------------------------------------------------------------- values

def _fact_value(value: Any, old: Any = None, key: str = "") -> Union[str, int, float]:
    """A fact value as stored, or BrandDataError. Facts are strings or numbers;
    a number-like text replacing a number stays a number (129 → "130" → 130)."""
    label = f"「{key}」" if key else ""
    if isinstance(value, bool) or value is None:
        raise BrandDataError(f"品牌信息{label}的值只能是文字或数字，不能为空或是/否。")
    if isinstance(value, (list, tuple, dict, set)):
        raise BrandDataError(f"品牌信息{label}的值只能是一段文字或一个数字，不能是列表或多层结构。")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BrandDataError(f"品牌信息{label}的数字无效。")
        return value
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise BrandDataError(f"品牌信息{label}的值只能是文字或数字。")
    text = value.strip()
    if not text:
        raise BrandDataError(f"品牌信息{label}的值不能为空。")
    if _CONTROL.search(text):
        raise BrandDataError(f"品牌信息{label}的值不能换行或包含控制字符。")
    if "{" in text or "}" in text:
        raise BrandDataError(f"品牌信息{label}的值不能包含花括号 {{ }}（会被当成占位符）。")
    if len(text) > MAX_FACT_CHARS:
        raise BrandDataError(f"品牌信息{label}的值太长了（最多 {MAX_FACT_CHARS} 个字）。")
    if old is None or (isinstance(old, (int, float)) and not isinstance(old, bool)):
        if re.fullmatch(r"-?(0|[1-9][0-9]{0,15})", text):
            return int(text)
        if re.fullmatch(r"-?(0|[1-9][0-9]{0,15})\.[0-9]{1,6}", text) and repr(float(text)) == text:
            return float(text)
    return text


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not FACT_KEY.match(key):
        raise BrandDataError(f"键名「{key}」无效：只能用小写英文字母、数字和下划线，以字母开头，最长 64 个字符。")
    return key


# --------------------------------------------------------------------------- BrandData

class BrandData:
    """Brand facts and personas under `root` (the project folder)."""

    def __init__(self, root: Union[str, Path]) -> None:
        self.root = Path(root).resolve()
        self._lock = threading.RLock()

    # ----- files

    def _path(self, rel: str) -> Path:
        return self.root / rel

    def _read(self, rel: str) -> str:
        path = self._path(rel)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BrandDataError(f"找不到文件 {rel}。") from None

    def _load_rt(self, rel: str) -> Tuple[YAML, Any, str]:
        """The ruamel tree of `rel`, with a layout that writes the file back byte for byte."""
        text = self._read(rel)
        for layout in _LAYOUTS:
            rt = _make_yaml(layout)
            try:
                doc = rt.load(text)
            except Exception as exc:  # ruamel raises several error types
                raise BrandDataError(f"{rel} 不是有效的 YAML，请开发同事先修好它：{exc}") from None
            if _dump(rt, doc) == text:
                return rt, doc, text
        raise BrandDataError(f"{rel} 的排版无法原样保留，为避免改动无关的行，未做修改。请开发同事检查这个文件。")

    def _plain_file(self, rel: str) -> Any:
        try:
            return _plain_yaml(self._read(rel))
        except yaml.YAMLError as exc:
            raise BrandDataError(f"{rel} 不是有效的 YAML：{exc}") from None

    def _write(self, rel: str, before: str, after: str, expected: Any, ordered: bool = True) -> List[str]:
        """Write `after` over `before` atomically after the save checks."""
        if after == before:
            return []
        try:
            parsed = _plain_yaml(after)
        except yaml.YAMLError as exc:
            raise LossySave(f"保存 {rel} 会写出无效的 YAML，已取消：{exc}") from None
        if not _same(parsed, expected, ordered):
            raise LossySave(f"保存 {rel} 会改动或丢失其他内容，已取消。请开发同事检查这个文件。")
        lost = _comment_lines(before) - _comment_lines(after)
        if lost:
            raise LossySave(f"保存 {rel} 会丢失注释「{next(iter(lost))}」，已取消。请开发同事检查这个文件。")
        path = self._path(rel)
        if path.read_text(encoding="utf-8") != before:
            raise BrandDataError(f"{rel} 刚刚被其他人修改过，请刷新后再改。")
        fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(after)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        persona_mod.recheck(path)  # this process sees the edit at once; others within a second
        return [rel]

    # ----- responses and usages

    def _responses(self) -> Dict[str, Tuple[str, List[Any]]]:
        """Every response of the domain and data/responses: name -> (file, variants)."""
        found: Dict[str, Tuple[str, List[Any]]] = {}
        sources = [DOMAIN_FILE] + sorted(
            p.relative_to(self.root).as_posix() for p in self._path(RESPONSES_DIR).glob("*.yml"))
        for rel in sources:
            if not self._path(rel).is_file():
                continue
            data = self._plain_file(rel) or {}
            for name, variants in ((data.get("responses") if isinstance(data, dict) else None) or {}).items():
                found[str(name)] = (rel, variants if isinstance(variants, list) else [])
        return found

    def _persona_ids(self) -> List[str]:
        return sorted(p.stem for p in self._path(PERSONA_DIR).glob("*.yml"))

    def _texts(self) -> Iterator[Tuple[str, str, str]]:
        """(file, location, text) of every text that may hold placeholders."""
        for name, (rel, variants) in self._responses().items():
            for where, text in _strings(variants):
                yield rel, name, text
        for pid in self._persona_ids():
            rel = f"{PERSONA_DIR}/{pid}.yml"
            try:
                data = self._plain_file(rel)
            except BrandDataError:
                continue
            for where, text in _strings(data):
                yield rel, where, text

    def fact_usages(self, key: str) -> List[Dict[str, str]]:
        """Where {fact:KEY} is used: [{file, where}] (where: response name or persona field)."""
        return self._usages([key])[key]

    def all_fact_usages(self) -> Dict[str, List[Dict[str, str]]]:
        """fact_usages of every fact, in one pass over the files (the console's facts table)."""
        return self._usages([str(k) for k in self._facts_plain()])

    def _usages(self, keys: Sequence[str]) -> Dict[str, List[Dict[str, str]]]:
        wanted = set(keys)
        usages: Dict[str, List[Dict[str, str]]] = {key: [] for key in keys}
        seen = set()
        for rel, where, text in self._texts():
            used = set(_FACT_REF.findall(text)) & wanted
            if "brand_name" in wanted and "{brand}" in text:
                used.add("brand_name")
            for key in sorted(used):
                if (key, rel, where) not in seen:
                    seen.add((key, rel, where))
                    usages[key].append({"file": rel, "where": where})
        for folder in ("bot", "actions"):
            for path in sorted(self._path(folder).rglob("*.py")):
                try:
                    source = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                for key in keys:
                    if "{fact:" + key + "}" in source:
                        usages[key].append({"file": path.relative_to(self.root).as_posix(), "where": "代码"})
        for key in wanted & set(CODE_FACTS):
            usages[key].insert(0, {"file": "bot/persona.py", "where": CODE_FACTS[key]})
        return usages

    def _refuse_if_used(self, key: str, verb: str) -> None:
        usages = self.fact_usages(key)
        if usages:
            lines = [f"{u['file']}：{u['where']}" for u in usages]
            shown = "\n".join(f"- {line}" for line in lines[:20])
            more = f"\n……等共 {len(lines)} 处" if len(lines) > 20 else ""
            how = f"{{fact:{key}}}" + ("、{brand}" if key == "brand_name" else "")
            raise BrandDataError(
                f"不能{verb}「{key}」：还有 {len(lines)} 处在用它（{how}），请先改掉这些地方：\n{shown}{more}", lines)

    # ----- facts

    def _facts_plain(self) -> Dict[str, Any]:
        data = self._plain_file(FACTS_FILE) or {}
        if not isinstance(data, dict):
            raise BrandDataError(f"{FACTS_FILE} 的格式不对：应该是一行一个「键: 值」。")
        return data

    def facts(self) -> List[Dict[str, Any]]:
        """The facts in file order: [{key, value, comment?, section?}] (comment: the
        line's own # comment; section: the `# --- … ---` heading above it)."""
        _, doc, _ = self._load_rt(FACTS_FILE)
        plain = self._facts_plain()
        if not isinstance(doc, CommentedMap):
            return []
        section: Optional[str] = None
        before = doc.ca.comment[1] if doc.ca.comment and doc.ca.comment[1] else []
        for token in before:
            match = _SECTION.match(token.value.strip().splitlines()[-1] if token.value.strip() else "")
            section = match.group(1) if match else section
        rows: List[Dict[str, Any]] = []
        for key in doc.keys():
            row: Dict[str, Any] = {"key": str(key), "value": plain.get(key)}
            own, rest = _split_token(_get_token((doc.ca.items, key, 2)))
            if own is not None:
                row["comment"] = own.value.strip().lstrip("#").strip()
            if section:
                row["section"] = section
            rows.append(row)
            for line in rest.splitlines():
                match = _SECTION.match(line.strip())
                if match:
                    section = match.group(1)
        return rows

    def set_fact(self, key: str, value: Any) -> List[str]:
        """Change the value of an existing fact (only its line changes)."""
        with self._lock:
            rt, doc, text = self._load_rt(FACTS_FILE)
            if key not in doc:
                raise BrandDataError(f"没有品牌信息「{key}」；要新增请用「新增」。")
            old = doc[key]
            if isinstance(old, (dict, list)):
                raise BrandDataError(f"「{key}」不是一条简单的品牌信息，不能在这里修改。")
            new = _fact_value(value, old, key)
            if _same(_plain(old), new):
                return []
            doc[key] = _quoted_like(new, old) if isinstance(new, str) else new
            expected = dict(self._facts_plain())
            expected[key] = new
            return self._write(FACTS_FILE, text, _dump(rt, doc), expected)

    def add_fact(self, key: str, value: Any, after: Optional[str] = None) -> List[str]:
        """Add a fact after the fact `after` (default: at the end of the file)."""
        with self._lock:
            _check_key(key)
            rt, doc, text = self._load_rt(FACTS_FILE)
            if key in doc:
                raise BrandDataError(f"品牌信息「{key}」已经存在；要改值请直接修改。")
            if after is not None and after not in doc:
                raise BrandDataError(f"没有品牌信息「{after}」，不知道新的一条放在哪里。")
            new = _fact_value(value, None, key)
            keys = list(doc.keys())
            anchor = after if after is not None else (keys[-1] if keys else None)
            _insert_after(doc, anchor, key, _quoted_like(new) if isinstance(new, str) else new)
            before = self._facts_plain()
            expected: Dict[str, Any] = {}
            if anchor is None:
                expected[key] = new
            for k, v in before.items():
                expected[k] = v
                if k == anchor:
                    expected[key] = new
            return self._write(FACTS_FILE, text, _dump(rt, doc), expected)

    def delete_fact(self, key: str) -> List[str]:
        """Delete a fact no response uses (refused with the list of usages otherwise)."""
        with self._lock:
            rt, doc, text = self._load_rt(FACTS_FILE)
            if key not in doc:
                raise BrandDataError(f"没有品牌信息「{key}」。")
            self._refuse_if_used(key, "删除")
            _remove(doc, key, top=doc)
            expected = {k: v for k, v in self._facts_plain().items() if k != key}
            return self._write(FACTS_FILE, text, _dump(rt, doc), expected)

    def rename_fact(self, key: str, new_key: str) -> List[str]:
        """Rename a fact no response uses, in place (same line, same comment)."""
        with self._lock:
            _check_key(new_key)
            rt, doc, text = self._load_rt(FACTS_FILE)
            if key not in doc:
                raise BrandDataError(f"没有品牌信息「{key}」。")
            if new_key == key:
                return []
            if new_key in doc:
                raise BrandDataError(f"品牌信息「{new_key}」已经存在。")
            self._refuse_if_used(key, "改名")
            pos = list(doc.keys()).index(key)
            token = doc.ca.items.pop(key, None)
            value = doc[key]
            del doc[key]
            doc.insert(pos, new_key, value)
            if token:
                doc.ca.items[new_key] = token
            expected = {(new_key if k == key else k): v for k, v in self._facts_plain().items()}
            return self._write(FACTS_FILE, text, _dump(rt, doc), expected)

    # ----- personas

    def _persona_rel(self, persona_id: str) -> str:
        if not isinstance(persona_id, str) or not re.fullmatch(r"[a-z0-9_-]{1,64}", persona_id):
            raise BrandDataError(f"人设编号「{persona_id}」无效。")
        rel = f"{PERSONA_DIR}/{persona_id}.yml"
        if not self._path(rel).is_file():
            raise BrandDataError(f"没有人设「{persona_id}」；现有：{'、'.join(self._persona_ids())}。")
        return rel

    def persona(self, persona_id: str) -> Dict[str, Any]:
        """The persona file as data (what save_persona takes back)."""
        data = self._plain_file(self._persona_rel(persona_id)) or {}
        if not isinstance(data, dict):
            raise BrandDataError(f"人设「{persona_id}」的文件格式不对。")
        return data

    def personas(self) -> List[Dict[str, Any]]:
        """Every persona: {id, name, path} and its editable fields' values."""
        rows = []
        for pid in self._persona_ids():
            try:
                data = self.persona(pid)
            except BrandDataError:
                continue
            row = {"id": pid, "name": data.get("name", ""), "path": f"{PERSONA_DIR}/{pid}.yml"}
            row.update({k: copy.deepcopy(v) for k, v in data.items() if k not in ("id", "name")})
            rows.append(row)
        return rows

    def _system_text_keys(self, persona_id: str) -> List[str]:
        """The system texts every persona must say: those of the persona's file
        (or, should it lack them, of the other personas)."""
        keys: List[str] = []
        for pid in [persona_id] + [p for p in self._persona_ids() if p != persona_id]:
            try:
                data = self._plain_file(f"{PERSONA_DIR}/{pid}.yml") or {}
            except BrandDataError:
                continue
            texts = data.get("system_texts") if isinstance(data, dict) else None
            if isinstance(texts, dict) and texts:
                keys = [str(k) for k in texts]
                break
        return keys

    def validate_persona(self, persona_id: str, data: Any, facts: Optional[Mapping[str, Any]] = None) -> Persona:
        """The Persona `data` describes, or BrandDataError listing every problem (Chinese)."""
        facts = self._facts_plain() if facts is None else facts
        problems: List[str] = []
        if not isinstance(data, Mapping):
            raise BrandDataError("人设数据格式不对：应该是一组字段。")
        responses = self._responses()

        def need_str(value: Any, label: str, empty_ok: bool = True, template: bool = False) -> bool:
            if not isinstance(value, str):
                problems.append(f"{label}：应该是一段文字。")
                return False
            if not empty_ok and not value.strip():
                problems.append(f"{label}：不能为空。")
                return False
            if len(value) > MAX_TEXT_CHARS:
                problems.append(f"{label}：太长了（最多 {MAX_TEXT_CHARS} 个字）。")
            if "\x00" in value:
                problems.append(f"{label}：包含无效字符。")
            if not template and ("{" in value or "}" in value):
                problems.append(f"{label}：不能包含花括号 {{ }}。")
            return True

        def check_template(text: str, label: str, allowed: Iterable[str] = ()) -> None:
            allowed = set(allowed)
            for placeholder in _ANY_PLACEHOLDER.findall(text):
                if placeholder.startswith("fact:"):
                    if placeholder[5:] not in facts:
                        problems.append(f"{label}：用到了不存在的品牌信息 {{{placeholder}}}。")
                elif not _PERSONA_PLACEHOLDER.match(placeholder) and placeholder not in allowed:
                    problems.append(f"{label}：占位符 {{{placeholder}}} 不会被填上。")
            if text.count("{") != text.count("}"):
                problems.append(f"{label}：花括号 {{ }} 不成对。")

        for key in data:
            if key not in _TOP_FIELDS:
                problems.append(f"不认识的字段「{key}」（可用：{'、'.join(sorted(_TOP_FIELDS))}）。")
        if "id" in data and data["id"] != persona_id:
            problems.append(f"编号 id 必须是「{persona_id}」（与文件名相同）。")
        if "name" not in data:
            problems.append("缺少名字 name。")
        else:
            need_str(data["name"], "名字 name", empty_ok=False)
        if "avatar" in data:
            need_str(data["avatar"], "头像 avatar")
        if "self_intro" in data and need_str(data["self_intro"], "自我介绍 self_intro", template=True):
            if "{self_intro}" in data["self_intro"]:
                problems.append("自我介绍 self_intro 不能引用它自己 {self_intro}。")
            check_template(data["self_intro"], "自我介绍 self_intro")

        tone = data.get("tone", {})
        if tone is not None and not isinstance(tone, Mapping):
            problems.append("语气 tone 应该是一组字段（you、emoji、exclaim）。")
            tone = {}
        for key in tone or {}:
            if key not in _TONE_FIELDS:
                problems.append(f"语气 tone 里不认识的字段「{key}」（可用：you、emoji、exclaim）。")
        if "you" in (tone or {}):
            need_str(tone["you"], "称呼 tone.you", empty_ok=False)
        if "exclaim" in (tone or {}):
            need_str(tone["exclaim"], "感叹号 tone.exclaim")
        emoji = (tone or {}).get("emoji", {})
        if emoji is not None and not isinstance(emoji, Mapping):
            problems.append("表情 tone.emoji 应该是「场合: 表情」的一组字段。")
        else:
            for name, value in (emoji or {}).items():
                if not isinstance(name, str) or not _EMOJI_NAME.match(name):
                    problems.append(f"表情名「{name}」无效：只能用小写英文字母。")
                if value is not None:
                    need_str(value, f"表情 tone.emoji.{name}")

        phrases = data.get("signature_phrases", [])
        if phrases is not None and not isinstance(phrases, list):
            problems.append("口头禅 signature_phrases 应该是一组文字。")
        else:
            for i, phrase in enumerate(phrases or []):
                need_str(phrase, f"口头禅第 {i + 1} 条", empty_ok=False)

        system_texts = data.get("system_texts")
        required = self._system_text_keys(persona_id)
        if not isinstance(system_texts, Mapping):
            problems.append("缺少系统话术 system_texts（故障道歉、转人工等，每个人设都要有）。")
        else:
            missing = [k for k in required if k not in system_texts]
            unknown = [str(k) for k in system_texts if str(k) not in required]
            if missing:
                problems.append(f"系统话术缺少：{'、'.join(missing)}（每个人设都必须有）。")
            if unknown:
                problems.append(f"不认识的系统话术：{'、'.join(unknown)}（程序不会用到它们）。")
            for key, text in system_texts.items():
                label = f"系统话术 {key}"
                if need_str(text, label, empty_ok=False, template=True):
                    check_template(text, label, SYSTEM_TEXT_VALUES.get(str(key), ()))

        persona_responses = data.get("responses", {})
        if persona_responses is not None and not isinstance(persona_responses, Mapping):
            problems.append("专属回复 responses 应该是「回复名: 话术列表」。")
            persona_responses = {}
        for name, variants in (persona_responses or {}).items():
            label = f"专属回复 {name}"
            if name not in responses:
                problems.append(f"{label}：没有这个回复名（它必须是 domain.yml 或 data/responses 里已有的回复）。")
                continue
            slots = {p for _, t in _strings(responses[name][1]) for p in _ANY_PLACEHOLDER.findall(t)}
            if not isinstance(variants, list) or not variants:
                problems.append(f"{label}：应该是至少一条话术的列表。")
                continue
            for i, variant in enumerate(variants):
                vlabel = f"{label} 第 {i + 1} 条"
                if not isinstance(variant, Mapping) or "text" not in variant:
                    problems.append(f"{vlabel}：每条话术要有 text。")
                    continue
                for key in variant:
                    if key not in _VARIANT_FIELDS:
                        problems.append(f"{vlabel}：不认识的字段「{key}」。")
                if need_str(variant["text"], vlabel, empty_ok=False, template=True):
                    check_template(variant["text"], vlabel, slots)
                for j, button in enumerate(variant.get("buttons") or []):
                    if not isinstance(button, Mapping) or not isinstance(button.get("title"), str):
                        problems.append(f"{vlabel} 的第 {j + 1} 个按钮要有标题 title。")
                    else:
                        check_template(button["title"], f"{vlabel} 的按钮", slots)

        if problems:
            raise BrandDataError("人设没有保存：\n" + "\n".join(f"- {p}" for p in problems), problems)
        try:
            persona = persona_from_dict(copy.deepcopy(dict(data)), persona_id)
        except Exception as exc:
            raise BrandDataError(f"人设无法加载：{exc}") from None
        # What system_text() promises its callers: every placeholder filled.
        for key, text in persona.system_texts.items():
            rendered = render_text(text, persona, facts)
            for name in SYSTEM_TEXT_VALUES.get(key, ()):
                rendered = rendered.replace("{" + name + "}", "")
            if "{" in rendered or "}" in rendered:
                problems.append(f"系统话术 {key} 渲染后还有没填上的占位符：{rendered}")
        if problems:
            raise BrandDataError("人设没有保存：\n" + "\n".join(f"- {p}" for p in problems), problems)
        return persona

    def save_persona(self, persona_id: str, data: Mapping[str, Any]) -> List[str]:
        """Write the persona `data` (the whole profile, as persona() returns it) after validation."""
        with self._lock:
            rel = self._persona_rel(persona_id)
            data = _plain(dict(data)) if isinstance(data, Mapping) else data
            self.validate_persona(persona_id, data)
            if "id" not in data and "id" in self.persona(persona_id):
                data = {"id": persona_id, **data}  # a draft without the id keeps the file's id line
            rt, doc, text = self._load_rt(rel)
            if not isinstance(doc, CommentedMap):
                raise BrandDataError(f"{rel} 的格式不对。")
            _merge(doc, data)
            after = _dump(rt, doc)
            try:
                reparsed = _plain_yaml(after)
                persona_from_dict(reparsed, persona_id)  # the bot's loader, on what will be on disk
            except Exception as exc:
                raise LossySave(f"保存后的 {rel} 无法被加载，已取消：{exc}") from None
            return self._write(rel, text, after, data, ordered=False)

    # ----- preview

    def preview(
        self,
        persona_id: str,
        facts_override: Optional[Mapping[str, Any]] = None,
        persona_override: Optional[Mapping[str, Any]] = None,
        sample: int = 8,
    ) -> List[Dict[str, Any]]:
        """Real responses rendered by the bot's NLG for an unsaved draft.

        facts_override: {key: value} laid over the saved facts; persona_override: the
        whole draft profile (as save_persona takes it). Returns up to `sample`
        items [{response, text, before, changed}], a fixed selection across
        greetings, FAQ answers and system texts; texts the draft changes come first.
        Slot placeholders ({streak}) and system-text values ({guide}) stay visible.
        """
        from bot.nlg import PersonaNaturalLanguageGenerator  # imports Rasa: only when asked

        saved_facts = self._facts_plain()
        facts = dict(saved_facts)
        for key, value in (facts_override or {}).items():
            _check_key(key)
            facts[key] = _fact_value(value, saved_facts.get(key), key)
        saved_data = self.persona(persona_id)
        saved_persona = persona_from_dict(copy.deepcopy(saved_data), persona_id)
        if persona_override is not None:
            draft = self.validate_persona(persona_id, _plain(dict(persona_override)), facts)
        else:
            draft = saved_persona

        responses = {name: variants for name, (_, variants) in self._responses().items()}

        def generator(persona: Persona, fact_values: Dict[str, Any]) -> Any:
            # One signature phrase, so that texts with {signature} render the same every time.
            fixed = dataclasses.replace(persona, signature_phrases=persona.signature_phrases[:1])
            nlg = PersonaNaturalLanguageGenerator(persona=fixed, facts=fact_values)
            nlg.responses = responses  # as Rasa's Agent does with the model's domain
            return nlg

        old_nlg, new_nlg = generator(saved_persona, saved_facts), generator(draft, facts)

        def render(nlg: Any, kind: str, name: str, index: int) -> Optional[str]:
            if kind == "response":
                variants = nlg.responses.get(name) or []
                if index >= len(variants):
                    return None
                rendered = nlg.render_persona(variants[index])
                text = str(rendered.get("text") or "")
                titles = [str(b.get("title", "")) for b in rendered.get("buttons") or []]
                return text + ("".join(f"\n[{t}]" for t in titles) if titles else "")
            persona = nlg.persona
            if kind == "system":
                template = persona.system_texts.get(name)
                return None if template is None else nlg.render_plain(template)
            if kind == "self_intro":
                return nlg.render_plain("{self_intro}")
            phrases = (draft if nlg is new_nlg else saved_persona).signature_phrases
            return phrases[index] if index < len(phrases) else None

        # The fixed selection: greetings, FAQ answers and system texts in turn. Texts
        # outside it (other responses, each signature phrase) are shown when changed.
        greetings = [("response", n) for n in _GREETINGS if n in new_nlg.responses] + [("self_intro", "self_intro")]
        faq = [("response", n) for n in sorted(responses) if n.startswith("utter_faq/")]
        system = [("system", k) for k in sorted(draft.system_texts)]
        fixed = list(_round_robin([greetings, faq, system]))
        ordered = fixed + [("response", n) for n in sorted(new_nlg.responses) if ("response", n) not in fixed]
        phrase_count = max(len(draft.signature_phrases), len(saved_persona.signature_phrases))
        ordered += [("signature", str(i)) for i in range(phrase_count)]
        in_fixed = set(fixed)

        changed: List[Dict[str, Any]] = []
        unchanged: List[Dict[str, Any]] = []
        for kind, name in ordered:
            count = len(new_nlg.responses.get(name) or []) if kind == "response" else 1
            index = int(name) if kind == "signature" else 0
            first: Optional[Dict[str, Any]] = None
            for variant in range(count):
                i = index if kind == "signature" else variant
                text = render(new_nlg, kind, name, i)
                if text is None:
                    continue
                before = render(old_nlg, kind, name, i)
                label = _label(kind, name, i, count)
                item = {"response": label, "text": text, "before": before, "changed": text != before}
                if item["changed"]:
                    first = item
                    break
                first = first or item
            if first is None:
                continue
            if first["changed"]:
                changed.append(first)
            elif (kind, name) in in_fixed:
                unchanged.append(first)
        return (changed + unchanged)[:max(sample, 0)]


def _label(kind: str, name: str, index: int, count: int) -> str:
    if kind == "system":
        return f"system_texts.{name}"
    if kind == "self_intro":
        return "self_intro"
    if kind == "signature":
        return f"signature_phrases[{index + 1}]"
    return name if index == 0 else f"{name}#{index + 1}"


def _round_robin(groups: Sequence[Sequence[Any]]) -> Iterator[Any]:
    longest = max((len(g) for g in groups), default=0)
    for i in range(longest):
        for group in groups:
            if i < len(group):
                yield group[i]

