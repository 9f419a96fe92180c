"""Persona profiles and the rendering of response texts in a persona's voice.

Responses in `domain.yml` and `data/responses/` are written once with
placeholders; the active persona (env `PERSONA`) fills them at run time, so a
brand can switch who speaks without retraining:

    {persona}  persona's name          {you}        form of address (你 / 宝子)
    {brand}    brand name (facts)      {emoji_X}    persona's emoji for X, may be ""
    {fact:K}   brand fact K            {signature}  one of the persona's signature phrases
    {self_intro} the persona's self-introduction

This module has no Rasa dependency so the console and tools can use it too.

Live reload: `load_persona` and `load_facts` keep the last good parse of each
file and re-read it when the file's stat (mtime, size, inode) changed, checking
at most once per RELOAD_CHECK_INTERVAL_S, so ops edits (bot/console/brand_data.py)
reach the running bot without a restart or retraining, and a message costs no
YAML parse. A file that turns unreadable (invalid YAML, a persona without a
name, deleted) keeps the last good version in service, with one warning per
broken version; only a file never read successfully is an error, as before.
"""
from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import yaml

ROOT = Path(__file__).resolve().parent.parent
# The folder holding personas/ and data/brand/facts.yml: the checkout, unless the
# data the ops console edits lives elsewhere (CONSOLE_REPO, read by every process
# that speaks: Rasa, the console), so an edit there is live. PERSONA_DATA_ROOT overrides.
DATA_ROOT = Path(os.environ.get("PERSONA_DATA_ROOT", "").strip() or os.environ.get("CONSOLE_REPO", "").strip()
                 or ROOT)
PERSONA_DIR = DATA_ROOT / "personas"
FACTS_FILE = DATA_ROOT / "data" / "brand" / "facts.yml"
DEFAULT_PERSONA = "qiqi"
RELOAD_CHECK_INTERVAL_S = 1.0  # how often a file's stat is looked at, at most

logger = logging.getLogger(__name__)
_clock: Callable[[], float] = time.monotonic  # tests replace it

_PLACEHOLDER = re.compile(r"\{(persona|brand|you|signature|self_intro|emoji_[a-z]+|fact:[a-z0-9_]+)\}")
# "体验{emoji_sorry} 你的反馈": the space separates sentences after an emoji; a
# persona without that emoji gets a comma instead (or nothing after punctuation).
_EMPTY_EMOJI_GAP = re.compile(r"(.?)\{(emoji_[a-z]+)\} ")
_SENTENCE_PUNCT = "，。！？～、；：,.!?~…"


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    avatar: str
    self_intro: str
    you: str
    emoji: Mapping[str, str]
    exclaim: str
    signature_phrases: List[str]
    responses: Mapping[str, List[Dict[str, Any]]] = field(default_factory=dict)
    system_texts: Mapping[str, str] = field(default_factory=dict)

    def public_profile(self, facts: Mapping[str, Any]) -> Dict[str, str]:
        """What a web page may show about the persona."""
        return {
            "id": self.id,
            "name": self.name,
            "avatar": self.avatar,
            "brand": str(facts.get("brand_name", "")),
            "self_intro": render_text(self.self_intro, self, facts),
        }


class PersonaNotFound(ValueError):
    pass


def available_personas() -> List[str]:
    return sorted(p.stem for p in PERSONA_DIR.glob("*.yml"))


class _WatchedFile:
    """The last good parse of one file, re-read when the file's stat changed."""

    _UNSET: Any = object()

    def __init__(self, path: Path, parse: Callable[[Path], Any]) -> None:
        self.path = path
        self.parse = parse
        self.value: Any = self._UNSET
        self.signature: Optional[Tuple[int, int, int]] = None
        self.broken: Any = self._UNSET  # signature of the broken version already warned about
        self.checked_at = float("-inf")
        self.lock = threading.Lock()

    def get(self) -> Any:
        if self.value is not self._UNSET and _clock() - self.checked_at < RELOAD_CHECK_INTERVAL_S:
            return self.value
        with self.lock:
            self.checked_at = _clock()
            signature = _stat_signature(self.path)
            if self.value is not self._UNSET and (signature == self.signature or signature == self.broken):
                return self.value
            try:
                if signature is None:
                    raise FileNotFoundError(str(self.path))
                value = self.parse(self.path)
            except Exception as exc:
                if self.value is self._UNSET:
                    raise
                if signature != self.broken:
                    self.broken = signature
                    logger.warning("%s could not be read (%s: %s); still using the last good version.",
                                   self.path, type(exc).__name__, exc)
                return self.value
            if self.value is not self._UNSET:
                logger.info("Reloaded %s.", self.path)
            self.value, self.signature, self.broken = value, signature, self._UNSET
            return value


_watched: Dict[Tuple[str, str], _WatchedFile] = {}
_watched_lock = threading.Lock()


def _stat_signature(path: Path) -> Optional[Tuple[int, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _watch(kind: str, path: Path, parse: Callable[[Path], Any]) -> Optional[_WatchedFile]:
    """The watcher of `path`; None while the file was never read and does not exist."""
    key = (kind, str(path))
    watched = _watched.get(key)
    if watched is None:
        if not path.is_file():
            return None
        with _watched_lock:
            watched = _watched.setdefault(key, _WatchedFile(path, parse))
    return watched


def clear_caches() -> None:
    """Forget every file read (tests); the next call reads from disk."""
    with _watched_lock:
        _watched.clear()


def recheck(path: Union[str, Path]) -> None:
    """Look at `path` again on the next call instead of waiting out the check
    interval (the writer of the file calls it, so its own process sees the edit)."""
    target = Path(path).resolve()
    for (_, watched_path), watched in list(_watched.items()):
        if Path(watched_path).resolve() == target:
            watched.checked_at = float("-inf")


def persona_from_dict(raw: Any, persona_id: str) -> Persona:
    """Build a Persona from a persona file's parsed YAML (what load_persona does
    with the file; bot/console/brand_data.py runs it on drafts before saving)."""
    if not isinstance(raw, dict):
        raise ValueError(f"persona '{persona_id}': the file is not a mapping")
    tone = raw.get("tone") or {}
    return Persona(
        id=raw.get("id", persona_id),
        name=raw["name"],
        avatar=raw.get("avatar", ""),
        self_intro=raw.get("self_intro", ""),
        you=tone.get("you", "你"),
        emoji={k: v or "" for k, v in (tone.get("emoji") or {}).items()},
        exclaim=tone.get("exclaim", "！"),
        signature_phrases=list(raw.get("signature_phrases") or []),
        responses=raw.get("responses") or {},
        system_texts={str(k): str(v) for k, v in (raw.get("system_texts") or {}).items()},
    )


def load_persona(persona_id: Optional[str] = None, persona_dir: Union[str, Path, None] = None) -> Persona:
    """The persona `persona_id` (default: env PERSONA, else qiqi) from
    `persona_dir` (default PERSONA_DIR), re-read when its file changed."""
    persona_id = persona_id or os.environ.get("PERSONA") or DEFAULT_PERSONA
    folder = Path(persona_dir) if persona_dir else PERSONA_DIR
    path = folder / f"{persona_id}.yml"
    watched = _watch("persona", path, lambda p: persona_from_dict(
        yaml.safe_load(p.read_text(encoding="utf-8")) or {}, persona_id))
    if watched is None:
        names = sorted(p.stem for p in folder.glob("*.yml"))
        raise PersonaNotFound(f"persona '{persona_id}' not found; available: {', '.join(names)}")
    return watched.get()


def _parse_facts(path: Path) -> Dict[str, Any]:
    facts = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(facts, dict):
        raise ValueError("the facts file is not a mapping")
    return facts


def load_facts(path: Optional[str] = None) -> Dict[str, Any]:
    """The brand facts (default FACTS_FILE), re-read when the file changed; {}
    while the file never existed. Callers must not modify the returned dict."""
    facts_path = Path(path) if path else FACTS_FILE
    watched = _watch("facts", facts_path, _parse_facts)
    return {} if watched is None else watched.get()


# Compatibility with the former functools.lru_cache decorators.
load_persona.cache_clear = clear_caches  # type: ignore[attr-defined]
load_facts.cache_clear = clear_caches  # type: ignore[attr-defined]


def render_text(
    text: str,
    persona: Persona,
    facts: Mapping[str, Any],
    rng: Optional[random.Random] = None,
) -> str:
    """Fill persona placeholders; unknown placeholders (slots) are left for Rasa."""
    rng = rng or random

    def fill(match: "re.Match[str]") -> str:
        key = match.group(1)
        if key == "persona":
            return persona.name
        if key == "brand":
            return str(facts.get("brand_name", ""))
        if key == "you":
            return persona.you
        if key == "signature":
            return rng.choice(persona.signature_phrases) if persona.signature_phrases else ""
        if key == "self_intro":
            return render_text(persona.self_intro, persona, facts, rng)
        if key.startswith("emoji_"):
            return persona.emoji.get(key[len("emoji_"):], "")
        fact = facts.get(key[len("fact:"):])
        # A missing fact is an authoring error: keep the placeholder visible in
        # tests rather than silently printing an empty number.
        return match.group(0) if fact is None else str(fact)

    def close_gap(match: "re.Match[str]") -> str:
        before, key = match.group(1), match.group(2)
        if persona.emoji.get(key[len("emoji_"):], ""):
            return match.group(0)  # the emoji is there: keep the space after it
        return before + ("" if not before or before in _SENTENCE_PUNCT else "，")

    rendered = _PLACEHOLDER.sub(fill, _EMPTY_EMOJI_GAP.sub(close_gap, text))
    if rendered.endswith(("！", "!")) and persona.exclaim != "！":
        rendered = rendered[:-1] + persona.exclaim
    return rendered


def system_text(key: str, persona: Optional[Persona] = None, **values: str) -> str:
    """A text of the persona file's `system_texts` (outage apologies and the like),
    rendered in her voice. `values` fill message details after the persona, so
    user-provided text cannot inject placeholders. A missing key is a KeyError:
    every persona must say every system text (tests/unit/test_persona.py)."""
    persona = persona or load_persona()
    rendered = render_text(persona.system_texts[key], persona, load_facts())
    for name, value in values.items():
        rendered = rendered.replace("{" + name + "}", value)
    return rendered
