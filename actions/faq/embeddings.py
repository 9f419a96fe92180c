"""Which sentence-transformers model embeds FAQ questions, and loading it.

`FAQ_EMBEDDING_MODEL` may name any sentence-transformers model: a local folder
or a hub id already in the local cache (no hub is reachable in production
either unless you allow it). Unset, the in-domain model trained with the Rasa
model is used: models/faq-embeddings-<fingerprint>/ for the current training
data, else the newest one under models/.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np

from actions.faq.data import ROOT

logger = logging.getLogger(__name__)

ENV_VAR = "FAQ_EMBEDDING_MODEL"
MODELS_DIR = ROOT / "models"
PREFIX = "faq-embeddings-"


def model_dir_for(fingerprint: str, models_dir: Path = MODELS_DIR) -> Path:
    return models_dir / f"{PREFIX}{fingerprint}"


def default_model_path(models_dir: Path = MODELS_DIR) -> Optional[Path]:
    try:
        from common.model_fingerprint import fingerprint

        current = model_dir_for(fingerprint(), models_dir)
        if (current / "modules.json").is_file():
            return current
    except Exception as error:  # data folder missing in a packaged deployment
        logger.debug("No fingerprint: %s", error)
    candidates = [p for p in models_dir.glob(f"{PREFIX}*") if (p / "modules.json").is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def configured_model() -> Optional[str]:
    """The model to load: $FAQ_EMBEDDING_MODEL, else the default path (None if none)."""
    explicit = os.environ.get(ENV_VAR, "").strip()
    if explicit:
        return explicit
    path = default_model_path()
    return str(path) if path else None


class Embedder:
    """Texts -> unit vectors, with any sentence-transformers model."""

    def __init__(self, model_name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = model_name_or_path
        self.model = SentenceTransformer(model_name_or_path, device="cpu")
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def __call__(self, texts) -> np.ndarray:
        return self.model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ).astype(np.float32)
