"""Decide what to do with a question the classifier was unsure of:
answer it, offer "猜你想问" (top keys), or admit we don't know."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from actions.faq.data import faq_examples, read_nlu
from actions.faq.embeddings import Embedder, configured_model
from actions.faq.index import Hit, PhrasingIndex
from actions.faq.settings import FaqSettings

logger = logging.getLogger(__name__)

ANSWER, SUGGEST, NONE = "answer", "suggest", "none"


@dataclass(frozen=True)
class Decision:
    kind: str  # ANSWER | SUGGEST | NONE
    hits: List[Hit]  # best keys first (at most `suggestions`)

    @property
    def key(self) -> Optional[str]:
        return self.hits[0].key if self.hits else None


def decide(hits: Sequence[Hit], settings: FaqSettings) -> Decision:
    if not hits or hits[0].score < settings.suggest_threshold:
        return Decision(NONE, list(hits[: settings.suggestions]))
    runner_up = hits[1].score if len(hits) > 1 else -1.0
    if hits[0].score >= settings.answer_threshold and hits[0].score - runner_up >= settings.answer_margin:
        return Decision(ANSWER, [hits[0]])
    return Decision(SUGGEST, [h for h in hits[: settings.suggestions] if h.score >= settings.suggest_threshold])


class FaqMatcher:
    """The embedding model plus an index of every FAQ phrasing."""

    def __init__(self, embedder: Embedder, phrasings=None) -> None:
        self.embedder = embedder
        self.index = PhrasingIndex(phrasings or faq_examples(read_nlu()), embedder)

    def embed(self, text: str) -> np.ndarray:
        return self.index.embed([text])[0]

    def search_vector(self, vector: np.ndarray, top_k: int) -> List[Hit]:
        return self.index.search_vectors(vector[None, :], top_k)[0]


_lock = threading.Lock()
_matcher: Optional[FaqMatcher] = None
_failed: Optional[str] = None


def get_matcher() -> Optional[FaqMatcher]:
    """The process-wide matcher, loaded once; None if no model can be loaded."""
    global _matcher, _failed
    if _matcher is not None or _failed is not None:
        return _matcher
    with _lock:
        if _matcher is None and _failed is None:
            name = configured_model()
            try:
                if not name:
                    raise FileNotFoundError("no FAQ embedding model: run `make train` or set FAQ_EMBEDDING_MODEL")
                _matcher = FaqMatcher(Embedder(name))
                logger.info("FAQ matcher ready: %s (%d phrasings)", name, len(_matcher.index.texts))
            except Exception as error:
                _failed = f"{type(error).__name__}: {error}"
                logger.error("FAQ matcher unavailable, using the classifier's guesses only: %s", _failed)
    return _matcher


def reset_matcher(matcher: Optional[FaqMatcher] = None) -> None:
    """Tests: install a matcher (or forget the loaded one)."""
    global _matcher, _failed
    _matcher, _failed = matcher, None
