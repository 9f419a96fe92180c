"""Nearest-phrasing search: a key scores the best cosine similarity between
the query and any of its phrasings. Works with any encoder (texts -> vectors)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence

import numpy as np
from scipy import sparse

Encoder = Callable[[Sequence[str]], Any]  # texts -> rows: a numpy array or a scipy sparse matrix


@dataclass(frozen=True)
class Hit:
    key: str
    score: float  # cosine similarity of the closest phrasing, in [-1, 1]
    phrasing: str


def normalise(vectors):
    """Unit rows; sparse input (the lexical index) stays sparse."""
    if sparse.issparse(vectors):
        from sklearn.preprocessing import normalize

        return normalize(vectors.astype(np.float32)).tocsr()
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class PhrasingIndex:
    def __init__(self, phrasings: Dict[str, List[str]], encoder: Encoder) -> None:
        self.encoder = encoder
        self.keys: List[str] = sorted(phrasings)
        self.texts: List[str] = []
        owners: List[int] = []
        for i, key in enumerate(self.keys):
            for text in dict.fromkeys(phrasings[key]):
                self.texts.append(text)
                owners.append(i)
        self.owner = np.asarray(owners)
        self.matrix = normalise(encoder(self.texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return normalise(self.encoder(list(texts)))

    def search_vectors(self, queries, top_k: int = 3) -> List[List[Hit]]:
        sims = queries @ self.matrix.T  # (queries, phrasings)
        sims = sims.toarray() if sparse.issparse(sims) else np.asarray(sims)
        results: List[List[Hit]] = []
        for row in sims:
            best = np.full(len(self.keys), -np.inf, dtype=np.float32)
            np.maximum.at(best, self.owner, row)
            best_text = {}
            for idx in np.argsort(-row):
                k = int(self.owner[idx])
                if k not in best_text:
                    best_text[k] = idx
                    if len(best_text) == len(self.keys):
                        break
            order = np.argsort(-best)[:top_k]
            results.append([Hit(self.keys[k], float(best[k]), self.texts[best_text[k]]) for k in order])
        return results

    def search(self, texts: Sequence[str], top_k: int = 3) -> List[List[Hit]]:
        return self.search_vectors(self.embed(texts), top_k)
