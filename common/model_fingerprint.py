"""The fingerprint of everything that shapes a trained model.

Config, domain, training data, the jieba dictionary, the normaliser's rules, and the code that turns
them into a model: our NLU components (bot/nlu/) and the FAQ embedding
training code. Changing any of them names a new model, so `make test` and
`make run` retrain instead of serving a model built by older code.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
RASA_VERSION = "3.6.21"

# Rasa training data. Other folders under data/ (brand facts, catalogues) are
# read at run time and do not shape the model.
TRAINING_DATA_DIRS = ("data/nlu", "data/rules", "data/stories", "data/responses")
MODEL_INPUT_DIRS = TRAINING_DATA_DIRS + ("data/jieba", "data/normalise")
# Code that runs at training time: custom NLU components and FAQ embedding training.
MODEL_CODE_DIRS = ("bot/nlu",)
FAQ_TRAINING_CODE = (
    "actions/faq/data.py", "actions/faq/tokenizer.py", "actions/faq/training.py", "scripts/train_faq_embeddings.py",
)


def training_inputs(root: Path = ROOT) -> Iterable[Path]:
    yield root / "config.yml"
    yield root / "domain.yml"
    for folder in MODEL_INPUT_DIRS:
        yield from sorted(p for p in (root / folder).rglob("*") if p.is_file())
    for folder in MODEL_CODE_DIRS:
        yield from sorted(p for p in (root / folder).rglob("*.py") if p.is_file())
    for name in FAQ_TRAINING_CODE:
        if (root / name).is_file():
            yield root / name


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256(RASA_VERSION.encode())
    for path in training_inputs(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
