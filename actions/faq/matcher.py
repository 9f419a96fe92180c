"""Decide what to do with a question the classifier was unsure of:
answer it, offer "猜你想问" (top keys), or admit we don't know."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from actions.faq.data import Examples, faq_examples, read_nlu
from actions.faq.embeddings import Embedder, configured_model
from actions.faq.index import Hit, PhrasingIndex
from actions.faq.lexical import char_tfidf_encoder
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


def fuse(semantic: Sequence[Hit], others: Sequence[Sequence[Hit]], rrf_k: float) -> List[Hit]:
    """Semantic hits re-ordered by reciprocal-rank fusion with other rankings
    of the same message (the response selector's, the lexical index's). They
    fail on different messages (the selector on unseen wording, the embeddings
    on rare words and mixed languages, the lexical index on meaning), so a key
    several rank high is the best guess. Scores stay semantic: thresholds keep
    their meaning. `semantic` should rank every key (keys it lacks are dropped)."""
    rankings = [{h.key: i for i, h in enumerate(r)} for r in others if r]
    if not rankings:
        return list(semantic)

    def fused(item) -> float:
        i, hit = item
        return 1.0 / (rrf_k + i) + sum(1.0 / (rrf_k + r.get(hit.key, len(r) + 1)) for r in rankings)

    return [hit for _, hit in sorted(enumerate(semantic), key=fused, reverse=True)]


def decide(hits: Sequence[Hit], settings: FaqSettings, others: Sequence[Sequence[Hit]] = ()) -> Decision:
    """`hits`: the semantic ranking of every key, best first; `others`: other
    rankings of the same message (may be empty). Whether to answer, suggest
    or admit defeat depends on the semantic score alone; which keys
    "猜你想问" offers comes from all the rankings."""
    if not hits or hits[0].score < settings.suggest_threshold:
        return Decision(NONE, list(hits[: settings.suggestions]))
    runner_up = hits[1].score if len(hits) > 1 else -1.0
    if hits[0].score >= settings.answer_threshold and hits[0].score - runner_up >= settings.answer_margin:
        return Decision(ANSWER, [hits[0]])
    return Decision(SUGGEST, fuse(hits, others, settings.fusion_rrf_k)[: settings.suggestions])


class FaqMatcher:
    """The embedding model plus an index of every FAQ phrasing, and the
    lexical index of the same phrasings."""

    def __init__(self, embedder: Embedder, examples: Optional[Examples] = None) -> None:
        examples = examples or read_nlu()
        phrasings = faq_examples(examples)
        self.embedder = embedder
        self.index = PhrasingIndex(phrasings, embedder)
        self.lexical = PhrasingIndex(phrasings, char_tfidf_encoder([t for v in examples.values() for t in v]))

    def embed(self, text: str) -> np.ndarray:
        return self.index.embed([text])[0]

    def search_vector(self, vector: np.ndarray, top_k: int) -> List[Hit]:
        return self.index.search_vectors(vector[None, :], top_k)[0]

    def lexical_ranking(self, text: str) -> List[Hit]:
        """Every key, by character n-gram similarity."""
        return self.lexical.search([text], len(self.lexical.keys))[0]


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
