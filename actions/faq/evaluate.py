"""Offline comparison of FAQ matchers on a held-out paraphrase split.

Run by scripts/eval.py in the action-server environment (torch lives there):
    python -m actions.faq.evaluate --split SPLIT.json --out RESULT.json
SPLIT.json: {"train": {class: [texts]}, "test": {class: [texts]},
             "queries": {"name": [[text, key], ...]}} (extra query sets, e.g.
FAQ phrasings the classifier got wrong). Reports top-1 / top-3 accuracy of a
character TF-IDF baseline and of the embedding model trained on the train
split only, plus score distributions for out-of-scope texts.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from actions.faq.data import FAQ_PREFIX, OUT_OF_SCOPE, ROOT, paraphrase_classes
from actions.faq.index import Hit, PhrasingIndex
from actions.faq.lexical import char_tfidf_encoder
from actions.faq.matcher import fuse
from actions.faq.settings import load_settings

USERDICT = ROOT / "data" / "jieba" / "userdict.txt"


def embedding_encoder(model):
    return lambda texts: model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)


FUSED = "embeddings + lexical + classifier"  # what "猜你想问" ranks by
Query = Tuple[str, str, list]  # text, right key, the response selector's ranking [[key, confidence], ...]


def classifier_hits(ranking: list) -> List[Hit]:
    return [Hit(key, float(conf), "") for key, conf in ranking or []]


def topk(index: PhrasingIndex, pairs: List[Query], lexical: PhrasingIndex | None = None,
         rrf_k: float = 0.0) -> Dict[str, float]:
    """Top-1/top-3 accuracy of the index; with `lexical`, of its ranking fused
    with the lexical ranking and each query's classifier ranking (what
    "猜你想问" offers, matcher.fuse)."""
    if not pairs:
        return {"n": 0}
    texts = [p[0] for p in pairs]
    hits = index.search(texts, top_k=len(index.keys))
    if lexical is not None:
        lexical_hits = lexical.search(texts, top_k=len(lexical.keys))
        hits = [fuse(h, [classifier_hits(p[2] if len(p) > 2 else []), lex], rrf_k)
                for h, lex, p in zip(hits, lexical_hits, pairs)]
    pairs = [(p[0], p[1]) for p in pairs]
    top1 = sum(h[0].key == k for h, (_, k) in zip(hits, pairs))
    top3 = sum(k in [x.key for x in h[:3]] for h, (_, k) in zip(hits, pairs))
    right = [h[0].score for h, (_, k) in zip(hits, pairs) if h[0].key == k]
    return {"n": len(pairs), "top1": top1 / len(pairs), "top3": top3 / len(pairs),
            "median_top_score_when_right": float(np.median(right)) if right else None}


def score_quantiles(index: PhrasingIndex, texts: List[str]) -> Dict[str, float]:
    if not texts:
        return {}
    scores = [h[0].score for h in index.search(texts, top_k=1)]
    return {f"p{q}": float(np.percentile(scores, q)) for q in (10, 50, 90)}


def run(split: dict) -> dict:
    from actions.faq.training import train_model

    train, test = split["train"], split["test"]
    faq_train = {k[len(FAQ_PREFIX):]: v for k, v in train.items() if k.startswith(FAQ_PREFIX)}
    faq_test = [(t, k[len(FAQ_PREFIX):], []) for k, v in test.items() if k.startswith(FAQ_PREFIX) for t in v]
    queries = {name: [tuple(p) for p in pairs] for name, pairs in (split.get("queries") or {}).items()}
    oos = split.get("out_of_scope") or []

    with tempfile.TemporaryDirectory() as tmp:
        model = train_model(paraphrase_classes(train), Path(tmp) / "model", USERDICT,
                            negatives=train.get(OUT_OF_SCOPE, []))
    corpus = [t for v in train.values() for t in v]
    matchers = {
        "tfidf_char_1_3": PhrasingIndex(faq_train, char_tfidf_encoder(corpus)),
        "embeddings": PhrasingIndex(faq_train, embedding_encoder(model)),
    }
    result: dict = {}
    for name, index in matchers.items():
        result[name] = {
            "held_out_faq": topk(index, faq_test),
            **{q: topk(index, pairs) for q, pairs in queries.items()},
            "out_of_scope_top_score": score_quantiles(index, oos),
            "held_out_faq_top_score": score_quantiles(index, [t for t, _, _ in faq_test]),
        }
    # the production ranking of "猜你想问": embeddings + lexical + the response selector
    rrf_k = load_settings().fusion_rrf_k
    result[FUSED] = {q: topk(matchers["embeddings"], pairs, matchers["tfidf_char_1_3"], rrf_k)
                     for q, pairs in [("held_out_faq", faq_test), *queries.items()]}
    result["decisions"] = decisions(matchers["embeddings"], matchers["tfidf_char_1_3"],
                                    queries.get("classifier_misses", []), oos)
    return result


def decisions(index: PhrasingIndex, lexical: PhrasingIndex, misses: List[Query],
              oos: List[str]) -> Dict[str, Dict[str, int]]:
    """What action_faq_fallback would do with the current thresholds (settings.yml)."""
    from actions.faq.matcher import decide

    settings = load_settings()
    out: Dict[str, Dict[str, int]] = {}
    if misses:
        counts = {"answered right": 0, "answered wrong": 0, "suggested incl. right": 0,
                  "suggested without right": 0, "no match": 0}
        texts = [m[0] for m in misses]
        for hits, lex, (_, key, ranking) in zip(index.search(texts, top_k=len(index.keys)),
                                                lexical.search(texts, top_k=len(lexical.keys)), misses):
            d = decide(hits, settings, [classifier_hits(ranking), lex])
            if d.kind == "answer":
                counts["answered right" if d.key == key else "answered wrong"] += 1
            elif d.kind == "suggest":
                counts["suggested incl. right" if key in [h.key for h in d.hits] else "suggested without right"] += 1
            else:
                counts["no match"] += 1
        out["classifier_misses"] = counts
    if oos:
        counts = collections.Counter(decide(h, settings).kind for h in index.search(oos, top_k=3))
        out["out_of_scope"] = {"answered (wrong)": counts["answer"], "suggested": counts["suggest"], "no match": counts["none"]}
    return out


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = run(json.loads(Path(args.split).read_text(encoding="utf-8")))
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
