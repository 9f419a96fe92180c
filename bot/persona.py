"""Persona profiles and the rendering of response texts in a persona's voice.

Responses in `domain.yml` and `data/responses/` are written once with
placeholders; the active persona (env `PERSONA`) fills them at run time, so a
brand can switch who speaks without retraining:

    {persona}  persona's name          {you}        form of address (你 / 宝子)
    {brand}    brand name (facts)      {emoji_X}    persona's emoji for X, may be ""
    {fact:K}   brand fact K            {signature}  one of the persona's signature phrases
    {self_intro} the persona's self-introduction

This module has no Rasa dependency so the console and tools can use it too.
"""
from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
PERSONA_DIR = ROOT / "personas"
FACTS_FILE = ROOT / "data" / "brand" / "facts.yml"
DEFAULT_PERSONA = "qiqi"

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


@lru_cache(maxsize=None)
def load_persona(persona_id: Optional[str] = None) -> Persona:
    persona_id = persona_id or os.environ.get("PERSONA") or DEFAULT_PERSONA
    path = PERSONA_DIR / f"{persona_id}.yml"
    if not path.is_file():
        raise PersonaNotFound(
            f"persona '{persona_id}' not found; available: {', '.join(available_personas())}"
        )
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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


@lru_cache(maxsize=None)
def load_facts(path: Optional[str] = None) -> Dict[str, Any]:
    facts_path = Path(path) if path else FACTS_FILE
    if not facts_path.is_file():
        return {}
    return yaml.safe_load(facts_path.read_text(encoding="utf-8")) or {}


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
