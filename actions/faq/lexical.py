"""Character n-gram TF-IDF: the lexical half of FAQ retrieval.

It knows no meaning, but it never misses a rare shared word (a product name,
an English word, a typo the embeddings have not seen), which is exactly where
the small in-domain embedding model is weakest. "猜你想问" fuses its ranking
with the embeddings' and the classifier's (matcher.fuse); it is also the
baseline `make eval` compares the embeddings against.
"""
from __future__ import annotations

from typing import Sequence

from actions.faq.index import Encoder


def char_tfidf_encoder(corpus: Sequence[str]) -> Encoder:
    """Character 1-3-gram TF-IDF fitted on `corpus` (all NLU examples: IDF from the whole domain)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=True)
    vectorizer.fit(list(corpus))
    return lambda texts: vectorizer.transform(list(texts))  # sparse: ~17k n-grams, a dense copy is 100+ MB
