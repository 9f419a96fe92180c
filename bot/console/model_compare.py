"""A trained model against the live one, on the same test messages (issue 13, item 5).

The test messages are never training data: the frozen held-out split and the
category sets of `make eval` (tests/nlu_eval/), its out-of-scope set, and the
messages ops marked in the console with the answer they should get
(`console:holdout`, text -> label). Both models parse every message; the report
lists accuracy overall and per label (an intent, or `faq/<key>` / `chitchat/<key>`),
the labels that got better or worse, and every message whose prediction changed.

    python -m bot.console.model_compare --candidate models/A.tar.gz --active models/B.tar.gz --out report.json
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / "tests" / "nlu_eval"
HOLDOUT_KEY = "console:holdout"
FALLBACKS = {"nlu_fallback", "out_of_scope"}
RETRIEVAL = ("faq", "chitchat")
MAX_CHANGED_LISTED = 300


def eval_cases(holdout: Optional[Dict[str, str]] = None) -> List[Dict[str, str]]:
    """[{text, label, source}] without duplicate texts (the first source wins)."""
    cases: List[Dict[str, str]] = []
    seen = set()

    def add(text: Any, label: Any, source: str) -> None:
        text, label = str(text or "").strip(), str(label or "").strip()
        if text and label and text not in seen:
            seen.add(text)
            cases.append({"text": text, "label": label, "source": source})

    for text, label in sorted((holdout or {}).items()):
        add(text, label, "ops")
    heldout = yaml.safe_load((EVAL_DIR / "heldout.yml").read_text(encoding="utf-8"))["heldout"]
    for label, texts in heldout.items():
        for text in texts or []:
            add(text, label, "heldout")
    categories = yaml.safe_load((EVAL_DIR / "categories.yml").read_text(encoding="utf-8"))["categories"]
    for category, items in categories.items():
        for item in items or []:
            add(item.get("text"), item.get("label"), category)
    for text in yaml.safe_load((EVAL_DIR / "out_of_scope.yml").read_text(encoding="utf-8"))["out_of_scope"]:
        add(text, "out_of_scope", "out_of_scope")
    return cases


def predicted_label(parse: Dict[str, Any]) -> str:
    """What the customer gets: a fallback, an intent, or a retrieval intent's answer key."""
    intent = str((parse.get("intent") or {}).get("name") or "")
    if intent in FALLBACKS or not intent:
        return "out_of_scope"
    if intent in RETRIEVAL:
        selector = ((parse.get("response_selector") or {}).get(intent) or {}).get("response") or {}
        key = str(selector.get("intent_response_key") or "")
        return key if key.startswith(f"{intent}/") else intent
    return intent


def parse_texts(model: Path, texts: Iterable[str]) -> List[str]:
    import structlog
    from rasa.core.agent import Agent

    # Rasa logs every parse at debug level through structlog: keep the job log readable
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("rasa").setLevel(logging.WARNING)
    agent = Agent.load(str(model))

    async def run() -> List[str]:
        return [predicted_label(await agent.parse_message(text)) for text in texts]

    return asyncio.run(run())


def accuracy_by_label(cases: List[Dict[str, str]], predictions: List[str]) -> Dict[str, Tuple[int, int]]:
    totals: Dict[str, List[int]] = collections.defaultdict(lambda: [0, 0])
    for case, predicted in zip(cases, predictions):
        totals[case["label"]][0] += predicted == case["label"]
        totals[case["label"]][1] += 1
    return {label: (right, total) for label, (right, total) in totals.items()}


def compare(cases: List[Dict[str, str]], active: List[str], candidate: List[str]) -> Dict[str, Any]:
    before, after = accuracy_by_label(cases, active), accuracy_by_label(cases, candidate)
    labels = []
    for label in sorted(after):
        right_before, total = before[label]
        right_after, _ = after[label]
        labels.append({"label": label, "total": total, "active": right_before, "candidate": right_after,
                       "delta": right_after - right_before})
    changed = [
        {"text": case["text"], "label": case["label"], "source": case["source"], "active": old, "candidate": new,
         "verdict": "better" if new == case["label"] else "worse" if old == case["label"] else "changed"}
        for case, old, new in zip(cases, active, candidate) if old != new
    ]
    right_active = sum(p == c["label"] for c, p in zip(cases, active))
    right_candidate = sum(p == c["label"] for c, p in zip(cases, candidate))
    ops_cases = [(c, a, n) for c, a, n in zip(cases, active, candidate) if c["source"] == "ops"]
    return {
        "summary": {
            "cases": len(cases),
            "active_accuracy": round(right_active / max(1, len(cases)), 4),
            "candidate_accuracy": round(right_candidate / max(1, len(cases)), 4),
            "better": sum(c["verdict"] == "better" for c in changed),
            "worse": sum(c["verdict"] == "worse" for c in changed),
            "changed": len(changed),
            "ops_cases": len(ops_cases),
            "ops_active_right": sum(a == c["label"] for c, a, _ in ops_cases),
            "ops_candidate_right": sum(n == c["label"] for c, _, n in ops_cases),
        },
        "improved": [row for row in labels if row["delta"] > 0],
        "regressed": [row for row in labels if row["delta"] < 0],
        "labels": labels,
        "changed_predictions": changed[:MAX_CHANGED_LISTED],
        "changed_truncated": len(changed) > MAX_CHANGED_LISTED,
    }


def cases_digest(cases: List[Dict[str, Any]]) -> str:
    """Names the test messages a comparison used: the same digest, the same test."""
    return hashlib.sha256(json.dumps(cases, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def still_valid(report: Optional[Dict[str, Any]], candidate: Path, active: Optional[Path],
                holdout: Dict[str, str]) -> bool:
    """A stored comparison answers again when model, live model and test messages are the same."""
    return bool(report) and report.get("candidate") == candidate.name and \
        report.get("active") == (active.name if active else "") and \
        report.get("cases_digest") == cases_digest(eval_cases(holdout))


def predictions_file(model: Path) -> Path:
    return model.with_name(model.name[: -len(".tar.gz")] + ".predictions.json")


def predictions(model: Path, texts: List[str], digest: str) -> List[str]:
    """The model's labels for `texts`, parsed once per model and test set: a model file never
    changes (its name is its fingerprint), so the live model's predictions serve every
    comparison against it until the test messages change."""
    cache = predictions_file(model)
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    stored = stored if isinstance(stored, dict) else {}
    if isinstance(stored.get(digest), list) and len(stored[digest]) == len(texts):
        return stored[digest]
    labels = parse_texts(model, texts)
    kept = dict(list(stored.items())[-2:])  # the last test sets, not every one ever used
    kept[digest] = labels
    partial = cache.with_name(cache.name + ".tmp")
    partial.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    partial.replace(cache)  # a reader never sees half a file
    return labels


def run_comparison(candidate: Path, active: Optional[Path], holdout: Dict[str, str]) -> Dict[str, Any]:
    cases = eval_cases(holdout)
    texts = [case["text"] for case in cases]
    digest = cases_digest(cases)
    candidate_predictions = predictions(candidate, texts, digest)
    # no live model yet (or it is this one): the candidate is compared with itself
    active_predictions = predictions(active, texts, digest) if active and active != candidate \
        else candidate_predictions
    report = compare(cases, active_predictions, candidate_predictions)
    report["candidate"], report["active"] = candidate.name, active.name if active else ""
    report["cases_digest"] = digest
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidate", required=True, type=Path)
    parser.add_argument("--active", type=Path)
    parser.add_argument("--holdout", type=Path, help="JSON file {text: label}")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    holdout = json.loads(args.holdout.read_text(encoding="utf-8")) if args.holdout else {}
    report = run_comparison(args.candidate, args.active, holdout)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(report["summary"], ensure_ascii=False))


if __name__ == "__main__":
    main()
