"""Read the project's NLU examples (Rasa YAML) grouped by intent / retrieval key."""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
NLU_DIR = ROOT / "data" / "nlu"
FAQ_PREFIX = "faq/"
# Never trained as a paraphrase class: out_of_scope examples are unrelated to each other.
OUT_OF_SCOPE = "out_of_scope"
NOT_A_CLASS = {OUT_OF_SCOPE, "nlu_fallback"}

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

Examples = Dict[str, List[str]]


def strip_annotations(text: str) -> str:
    return _ANNOTATION.sub(r"\1", text).strip()


def read_nlu_file(path: Path) -> Examples:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    grouped: Examples = {}
    for block in raw.get("nlu") or []:
        intent = block.get("intent")
        if not intent or not isinstance(block.get("examples"), str):
            continue
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = strip_annotations(line[2:])
                if text:
                    grouped.setdefault(intent, []).append(text)
    return grouped


def read_nlu(paths: Iterable[Path] = ()) -> Examples:
    """All examples of the given files (default: every file under data/nlu)."""
    files = list(paths) or sorted(NLU_DIR.glob("*.yml"))
    grouped: Examples = {}
    for path in files:
        for intent, texts in read_nlu_file(path).items():
            grouped.setdefault(intent, []).extend(texts)
    return grouped


def faq_examples(grouped: Examples) -> Examples:
    """`faq/<key>` examples keyed by <key>."""
    return {k[len(FAQ_PREFIX):]: v for k, v in grouped.items() if k.startswith(FAQ_PREFIX)}


def paraphrase_classes(grouped: Examples) -> Examples:
    """Classes whose examples are paraphrases of each other (for training)."""
    return {k: v for k, v in grouped.items() if k not in NOT_A_CLASS and len(v) >= 2}


def split(grouped: Examples, test_share: float = 0.2, seed: int = 42) -> Tuple[Examples, Examples]:
    """Stratified, reproducible train/test split (at least one train example per class)."""
    rng = random.Random(seed)
    train: Examples = {}
    test: Examples = {}
    for name in sorted(grouped):
        texts = sorted(set(grouped[name]))
        rng.shuffle(texts)
        n_test = int(round(len(texts) * test_share)) if len(texts) > 2 else 0
        test[name] = texts[:n_test]
        train[name] = texts[n_test:]
    return train, {k: v for k, v in test.items() if v}
