"""`make eval`: NLU evaluation on a held-out split of our own data.

    .venv/rasa/bin/python scripts/eval.py [--folds K] [--no-semantic]

The held-out split is frozen in tests/nlu_eval/heldout.yml (the seed-42, 20 %
split of data/nlu as it was on 2026-12-01): an NLU model is trained on
data/nlu minus those texts (entity annotations kept; cached under .cache/eval/,
training serialised with `make train` by the same lock) and tested on them,
on the category sets of tests/nlu_eval/categories.yml (voice transcripts,
typos, dialect, mixed English, brand names, intent/FAQ near-misses,
near-domain out-of-scope requests; never trained on) and on the out-of-scope
set tests/nlu_eval/out_of_scope.yml. Writes under reports/eval/: summary.md,
metrics.json, errors.json and confusion matrices (intent, FAQ key). The
semantic FAQ matcher and a character TF-IDF baseline are compared on the same
split in the action-server environment (actions/faq/evaluate.py). --folds K
adds K-fold cross-validation of intent and FAQ key accuracy (K trainings: slow).
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import fcntl
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import yaml  # noqa: E402

from actions.faq.data import Examples, read_nlu, strip_annotations  # noqa: E402
from bot.model_files import MODELS_DIR, rasa_cli  # noqa: E402

CACHE = ROOT / ".cache" / "eval"
REPORTS = ROOT / "reports" / "eval"
EVAL_DIR = ROOT / "tests" / "nlu_eval"
OOS_FILE = EVAL_DIR / "out_of_scope.yml"
HELDOUT_FILE = EVAL_DIR / "heldout.yml"
CATEGORIES_FILE = EVAL_DIR / "categories.yml"
NLU_DIR = ROOT / "data" / "nlu"
# an out-of-scope request must never end in one of these (a wrong confident answer)
HARMFUL = {"complain", "goodbye", "faq"}
ACTIONS_PY = ROOT / ".venv" / "actions" / "bin" / "python"
FALLBACKS = {"nlu_fallback", "out_of_scope"}
FUSED = "embeddings + lexical + classifier"  # actions/faq/evaluate.py
TARGETS = {"intent_accuracy": 0.97, "faq_top1": 0.96, "oos_fallback_rate": 0.95, "oos_harmful_rate_max": 0.01,
           "category_accuracy": 0.95, "semantic_top3_on_misses": 0.95}


def intent_of(label: str) -> str:
    return label.split("/", 1)[0]


def write_nlu(examples: Examples, path: Path) -> None:
    blocks = [{"intent": k, "examples": "".join(f"- {t}\n" for t in v)} for k, v in sorted(examples.items())]
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")


def write_training_nlu(held_out: Examples, path: Path) -> None:
    """data/nlu without the held-out texts, entity annotations and synonyms kept."""
    drop = {(label, text) for label, texts in held_out.items() for text in texts}
    blocks = []
    for file in sorted(NLU_DIR.glob("*.yml")):
        for block in (yaml.safe_load(file.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in block and isinstance(block.get("examples"), str):
                lines = [l.strip() for l in block["examples"].splitlines() if l.strip().startswith("- ")]
                kept = [l for l in lines if (block["intent"], strip_annotations(l[2:])) not in drop]
                block = {**block, "examples": "".join(f"{l}\n" for l in kept)}
            blocks.append(block)
    path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")


def train_nlu(train: Examples, held_out: Examples = None) -> Path:
    """An NLU model for this split and config, reused when unchanged. With
    `held_out`, trains on data/nlu minus it (annotations kept), else on `train`."""
    digest = hashlib.sha256(json.dumps([train, held_out], sort_keys=True, ensure_ascii=False).encode())
    for extra in [ROOT / "config.yml", ROOT / "domain.yml", *sorted((ROOT / "data" / "responses").glob("*.yml")),
                  *sorted((ROOT / "data" / "jieba").glob("*")), *sorted((ROOT / "data" / "normalise").glob("*")),
                  *sorted((ROOT / "bot" / "nlu").glob("*.py"))]:  # the normaliser's rules, our components
        digest.update(extra.read_bytes())
    name = f"eval-nlu-{digest.hexdigest()[:12]}"
    folder = CACHE / name
    model = folder / f"{name}.tar.gz"
    if model.is_file():
        return model
    folder.mkdir(parents=True, exist_ok=True)
    if held_out is None:
        write_nlu(train, folder / "train.yml")
    else:
        write_training_nlu(held_out, folder / "train.yml")
    MODELS_DIR.mkdir(exist_ok=True)
    with open(MODELS_DIR / ".train.lock", "w") as lock, open(folder / "train.log", "w") as log:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one training at a time (bot.model_files)
        print(f"==> training an NLU model on the train split ({name})", file=sys.stderr)
        subprocess.run(
            rasa_cli() + ["train", "nlu", "--config", "config.yml", "--domain", "domain.yml",
                          "--nlu", str(folder / "train.yml"), "--out", str(folder), "--fixed-model-name", name],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log, stderr=subprocess.STDOUT, check=False,
        )
    if not model.is_file():
        raise SystemExit(f"NLU training failed; see {folder / 'train.log'}")
    return model


def parse_all(model: Path, texts: List[str]) -> List[dict]:
    import logging

    import structlog
    from rasa.core.agent import Agent

    # Rasa logs every parse at debug level through structlog: keep the report readable
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("rasa").setLevel(logging.WARNING)

    agent = Agent.load(str(model))

    async def run() -> List[dict]:
        return [await agent.parse_message(t) for t in texts]

    return asyncio.run(run())


def classifier_intent(parse: dict) -> str:
    """DIET's intent before the fallback gates replaced it with nlu_fallback."""
    for item in parse.get("intent_ranking") or []:
        if item.get("name") != "nlu_fallback":
            return item["name"]
    return parse["intent"]["name"]


def predicted_key(parse: dict, retrieval: str = "faq") -> str:
    selector = (parse.get("response_selector") or {}).get(retrieval) or {}
    key = (selector.get("response") or {}).get("intent_response_key") or ""
    return key.split("/", 1)[-1]


def faq_ranking(parse: dict) -> List[List]:
    """The response selector's FAQ ranking: [[key, confidence], ...], best first."""
    selector = (parse.get("response_selector") or {}).get("faq") or {}
    return [[str(r.get("intent_response_key", "")).split("/", 1)[-1], round(float(r.get("confidence") or 0), 4)]
            for r in selector.get("ranking") or []]


def understood(label: str, parse: dict) -> bool:
    """What a customer would notice: an out-of-scope request ends in the fallback;
    anything else gets the right intent and, for FAQ and chitchat, the right answer key."""
    if label == "out_of_scope":
        return parse["intent"]["name"] in FALLBACKS
    intent, _, key = label.partition("/")
    return classifier_intent(parse) == intent and (not key or predicted_key(parse, intent) == key)


def overridden(parse: dict) -> str:
    """The intent the out-of-scope detector replaced (bot.nlu.out_of_scope), if any."""
    return str((parse.get("out_of_scope_detector") or {}).get("overrode") or "")


def skin_types(parse: dict) -> List[str]:
    """The skin types found, as written (油皮) and as mapped (oily): a case names the written form."""
    text = str(parse.get("text") or "")
    found = []
    for e in parse.get("entities") or []:
        if e.get("entity") == "skin_type":
            found += [str(e.get("value")), text[int(e.get("start", 0)):int(e.get("end", 0))]]
    return found


def evaluate_split(train: Examples, test: Examples, oos: List[str], held_out: Examples = None,
                   categories: Dict[str, List[dict]] = None) -> dict:
    model = train_nlu(train, held_out)
    pairs = [(t, label) for label, texts in sorted(test.items()) for t in texts]
    cases = [(name, c) for name, items in sorted((categories or {}).items()) for c in items]
    parses = parse_all(model, [t for t, _ in pairs] + oos + [str(c["text"]) for _, c in cases])
    in_scope, oos_parses, case_parses = parses[: len(pairs)], parses[len(pairs): len(pairs) + len(oos)], \
        parses[len(pairs) + len(oos):]
    rows = []
    for (text, label), parse in zip(pairs, in_scope):
        gate = parse.get("faq_gate") or {}
        rows.append({
            "text": text, "label": label, "intent": intent_of(label),
            "predicted_intent": parse["intent"]["name"],
            "classifier_intent": classifier_intent(parse),
            "confidence": round(float(parse["intent"].get("confidence") or 0), 4),
            "faq_key": label.split("/", 1)[1] if label.startswith("faq/") else None,
            "predicted_faq_key": predicted_key(parse), "gate": gate.get("reason"),
            "faq_ranking": faq_ranking(parse),
            "normalised_text": parse.get("text", text),  # what the actions see (simplified, pinyin read)
            "oos_detector_overrode": overridden(parse),
        })
    oos_rows = [{"text": t, "predicted_intent": p["intent"]["name"], "classifier_intent": classifier_intent(p),
                 "predicted_faq_key": predicted_key(p), "oos_detector_overrode": overridden(p)}
                for t, p in zip(oos, oos_parses)]
    case_rows = []
    for (name, case), parse in zip(cases, case_parses):
        label = str(case["label"])
        row = {"category": name, "text": str(case["text"]), "label": label, "ok": understood(label, parse),
               "predicted_intent": parse["intent"]["name"], "classifier_intent": classifier_intent(parse),
               "predicted_key": predicted_key(parse, intent_of(label)) if "/" in label else "",
               "normalised_text": parse.get("text"), "oos_detector_overrode": overridden(parse)}
        if case.get("skin_type"):
            row["skin_type"], row["predicted_skin_types"] = str(case["skin_type"]), skin_types(parse)
        case_rows.append(row)
    return {"rows": rows, "oos_rows": oos_rows, "case_rows": case_rows}


def category_metrics(case_rows: List[dict], oos_rows: List[dict]) -> dict:
    by_category: Dict[str, dict] = {}
    for name in sorted({r["category"] for r in case_rows}):
        items = [r for r in case_rows if r["category"] == name]
        by_category[name] = {"examples": len(items), "accuracy": sum(r["ok"] for r in items) / len(items)}
    with_skin = [r for r in case_rows if r.get("skin_type")]
    # every out-of-scope request we never trained on: the general set and the near-domain category
    oos_all = [{"text": r["text"], "predicted_intent": r["predicted_intent"]} for r in oos_rows] + \
        [{"text": r["text"], "predicted_intent": r["predicted_intent"]} for r in case_rows if r["label"] == "out_of_scope"]
    landed = collections.Counter(r["predicted_intent"] for r in oos_all if r["predicted_intent"] not in FALLBACKS)
    oos_cases = [r for r in case_rows if r["label"] == "out_of_scope"] + oos_rows
    in_scope_cases = [r for r in case_rows if r["label"] != "out_of_scope"]
    return {
        "oos_detector_rescued": sum(bool(r["oos_detector_overrode"]) for r in oos_cases),
        "oos_detector_overrode_in_scope": sum(bool(r["oos_detector_overrode"]) for r in in_scope_cases),
        "categories": by_category,
        "skin_type_entity_accuracy": (sum(r["skin_type"] in r["predicted_skin_types"] for r in with_skin) / len(with_skin)
                                      if with_skin else None),
        "oos_all_examples": len(oos_all),
        "oos_all_fallback_rate": sum(r["predicted_intent"] in FALLBACKS for r in oos_all) / len(oos_all) if oos_all else None,
        "oos_all_harmful_rate": sum(r["predicted_intent"] in HARMFUL for r in oos_all) / len(oos_all) if oos_all else None,
        "oos_landed_on": dict(landed.most_common()),
    }


def metrics(rows: List[dict], oos_rows: List[dict]) -> dict:
    n = len(rows)
    # the classifier's intent; for out_of_scope examples a fallback is right too
    intent_ok = sum(r["classifier_intent"] == r["intent"]
                    or (r["intent"] == "out_of_scope" and r["predicted_intent"] in FALLBACKS) for r in rows)
    # after the gates: an out_of_scope example routed to the fallback is right too
    final_ok = sum(r["predicted_intent"] == r["intent"]
                   or (r["intent"] == "out_of_scope" and r["predicted_intent"] in FALLBACKS) for r in rows)
    in_scope = [r for r in rows if r["intent"] != "out_of_scope"]
    in_scope_ok = sum(r["classifier_intent"] == r["intent"] for r in in_scope)
    in_scope_fallback = sum(r["predicted_intent"] == "nlu_fallback" for r in rows if r["intent"] != "out_of_scope")
    detector_wrong = sum(bool(r.get("oos_detector_overrode")) for r in rows if r["intent"] != "out_of_scope")
    faq = [r for r in rows if r["faq_key"]]
    key_ok = [r for r in faq if r["predicted_faq_key"] == r["faq_key"]]
    answered = [r for r in faq if r["predicted_intent"] == "faq"]
    answered_wrong = [r for r in answered if r["predicted_faq_key"] != r["faq_key"]]
    oos_fb = sum(r["predicted_intent"] in FALLBACKS for r in oos_rows)
    return {
        "examples": n,
        "intent_accuracy": intent_ok / n,
        "final_intent_accuracy": final_ok / n,
        "in_scope_intent_accuracy": in_scope_ok / max(1, len(in_scope)),
        "held_out_in_scope_overridden_by_oos_detector": detector_wrong,
        "in_scope_fallback_rate": in_scope_fallback / max(1, sum(r["intent"] != "out_of_scope" for r in rows)),
        "faq_examples": len(faq),
        "faq_top1": len(key_ok) / len(faq) if faq else None,
        "faq_answered_directly": len(answered) / len(faq) if faq else None,
        "faq_wrong_answer_rate": len(answered_wrong) / len(faq) if faq else None,
        "oos_examples": len(oos_rows),
        "oos_fallback_rate": oos_fb / len(oos_rows) if oos_rows else None,
    }


def confused_pairs(rows: List[dict], top: int = 10) -> Dict[str, List[Tuple[str, str, int]]]:
    intents = collections.Counter((r["intent"], r["classifier_intent"]) for r in rows if r["classifier_intent"] != r["intent"]
                                  and not (r["intent"] == "out_of_scope" and r["predicted_intent"] in FALLBACKS))
    keys = collections.Counter((r["faq_key"], r["predicted_faq_key"]) for r in rows
                               if r["faq_key"] and r["predicted_faq_key"] != r["faq_key"])
    return {"intents": [(a, b, c) for (a, b), c in intents.most_common(top)],
            "faq_keys": [(a, b, c) for (a, b), c in keys.most_common(top)]}


def plot_confusion(truth: List[str], predicted: List[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = sorted(set(truth) | set(predicted))
    index = {l: i for i, l in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(truth, predicted):
        matrix[index[t], index[p]] += 1
    size = max(6, 0.32 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)))
    ax.set_yticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_yticklabels(labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=6,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def semantic_eval(train: Examples, test: Examples, rows: List[dict], oos: List[str]) -> dict:
    misses = [[r["normalised_text"], r["faq_key"], r["faq_ranking"]] for r in rows
              if r["faq_key"] and not (r["predicted_intent"] == "faq" and r["predicted_faq_key"] == r["faq_key"])]
    payload = {"train": train, "test": test, "queries": {"classifier_misses": misses}, "out_of_scope": oos}
    CACHE.mkdir(parents=True, exist_ok=True)
    split_file, out_file = CACHE / "semantic_split.json", CACHE / "semantic_result.json"
    split_file.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    print("==> semantic matcher vs TF-IDF (action-server env, trains on the train split)", file=sys.stderr)
    with open(CACHE / "semantic.log", "w") as log:
        done = subprocess.run([str(ACTIONS_PY), "-m", "actions.faq.evaluate", "--split", str(split_file), "--out",
                               str(out_file)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"semantic evaluation failed; see {CACHE / 'semantic.log'}")
    return json.loads(out_file.read_text(encoding="utf-8"))


def frozen_heldout(grouped: Examples) -> Examples:
    """The frozen held-out texts still in data/nlu (an example ops deleted is skipped)."""
    frozen = (yaml.safe_load(HELDOUT_FILE.read_text(encoding="utf-8")) or {}).get("heldout") or {}
    present = {label: set(texts) for label, texts in grouped.items()}
    held = {label: [str(t) for t in texts if str(t) in present.get(label, ())] for label, texts in frozen.items()}
    return {label: texts for label, texts in held.items() if texts}


def kfold(grouped: Examples, folds: int, seed: int) -> List[Tuple[Examples, Examples]]:
    rng = random.Random(seed)
    assigned: Dict[str, List[List[str]]] = {}
    for name in sorted(grouped):
        texts = sorted(set(grouped[name]))
        rng.shuffle(texts)
        assigned[name] = [texts[i::folds] for i in range(folds)]
    result = []
    for k in range(folds):
        test = {n: parts[k] for n, parts in assigned.items() if parts[k] and len(grouped[n]) > 2}
        train = {n: [t for i, p in enumerate(parts) if i != k or n not in test for t in p] for n, parts in assigned.items()}
        result.append((train, test))
    return result


def pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def summary_md(m: dict, pairs: dict, sem: dict, cv: dict, args) -> str:
    lines = ["# NLU evaluation (frozen held-out split tests/nlu_eval/heldout.yml, category sets tests/nlu_eval/categories.yml)", ""]
    lines += ["| metric | value | target |", "|---|---|---|"]
    lines.append(f"| intent accuracy counting out_of_scope as a class (a fallback is right for it; {m['examples']} held-out examples) | {pct(m['intent_accuracy'])} | ≥ 97% |")
    if "in_scope_intent_accuracy" in m:
        lines.append(f"| ... of which the contract's intents only, without the out_of_scope examples | {pct(m['in_scope_intent_accuracy'])} | |")
    lines.append(f"| intent accuracy after the fallback gates (fallback counts as wrong, except for out_of_scope) | {pct(m['final_intent_accuracy'])} | |")
    lines.append(f"| FAQ key top-1 (response selector, {m['faq_examples']} FAQ examples) | {pct(m['faq_top1'])} | ≥ 96% |")
    lines.append(f"| FAQ answered directly / wrong answer given | {pct(m['faq_answered_directly'])} / {pct(m['faq_wrong_answer_rate'])} | |")
    lines.append(f"| in-scope messages routed to the FAQ fallback (semantic matcher) | {pct(m['in_scope_fallback_rate'])} | |")
    lines.append(f"| out-of-scope ending in fallback, general set ({m['oos_examples']} requests) | {pct(m['oos_fallback_rate'])} | |")
    if m.get("oos_all_examples"):
        lines.append(f"| out-of-scope ending in fallback, general + near-domain ({m['oos_all_examples']} requests never trained on) | {pct(m['oos_all_fallback_rate'])} | ≥ 95% |")
        lines.append(f"| ... of them landing on complain, goodbye or a direct FAQ answer | {pct(m['oos_all_harmful_rate'])} | ≤ 1% |")
    if "oos_detector_rescued" in m:
        lines.append(f"| out-of-scope detector: out-of-scope requests it sent to the fallback / in-scope category examples it took away | {m['oos_detector_rescued']} / {m['oos_detector_overrode_in_scope']} | |")
    for name, c in (m.get("categories") or {}).items():
        lines.append(f"| category `{name}` ({c['examples']} held-out examples) | {pct(c['accuracy'])} | ≥ 95% |")
    if m.get("skin_type_entity_accuracy") is not None:
        lines.append(f"| skin type found in recommendation requests (near-miss category) | {pct(m['skin_type_entity_accuracy'])} | |")
    if sem:
        miss = sem["embeddings"].get("classifier_misses", {})
        fused = (sem.get(FUSED) or {}).get("classifier_misses", {})
        lines.append(f"| semantic matcher top-3 recall on the classifier's FAQ misses ({miss.get('n', 0)}), embeddings alone | {pct(miss.get('top3'))} | |")
        lines.append(f"| ... as \"猜你想问\" ranks them: embeddings fused with the lexical (TF-IDF) and the response selector's rankings | {pct(fused.get('top3'))} | ≥ 95% |")
        lines += ["", "## Semantic matcher vs character TF-IDF (same held-out FAQ phrasings)", "",
                  "| matcher | held-out top-1 | held-out top-3 | misses top-1 | misses top-3 | OOS top score p50 / p90 |",
                  "|---|---|---|---|---|---|"]
        for name, r in sem.items():
            if not isinstance(r, dict) or "held_out_faq" not in r:
                continue
            h, c, o = r["held_out_faq"], r.get("classifier_misses", {}), r.get("out_of_scope_top_score", {})
            scores = f"{o['p50']:.2f} / {o['p90']:.2f}" if o else "n/a (scores are semantic)"
            lines.append(f"| {name} | {pct(h.get('top1'))} | {pct(h.get('top3'))} | {pct(c.get('top1'))} | "
                         f"{pct(c.get('top3'))} | {scores} |")
        if "decisions" in sem:
            lines += ["", "## What the fallback action would do (current thresholds)", ""]
            for name, d in sem["decisions"].items():
                lines.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in d.items()))
    if m.get("oos_landed_on"):
        lines += ["", "## Where out-of-scope requests landed (final intent, those not ending in fallback)", ""]
        lines += [f"- {k}: {v}" for k, v in m["oos_landed_on"].items()]
    lines += ["", "## Most confused pairs", "", "Intents (true → predicted, count):"]
    lines += [f"- {a} → {b}: {c}" for a, b, c in pairs["intents"]] or ["- none"]
    lines += ["", "FAQ keys (true → predicted, count):"]
    lines += [f"- {a} → {b}: {c}" for a, b, c in pairs["faq_keys"]] or ["- none"]
    if cv:
        lines += ["", f"## {cv['folds']}-fold cross-validation", "",
                  f"- intent accuracy: {pct(cv['intent_accuracy_mean'])} (min {pct(cv['intent_accuracy_min'])})",
                  f"- FAQ key top-1: {pct(cv['faq_top1_mean'])} (min {pct(cv['faq_top1_min'])})"]
    lines += ["", "Pictures: `intent_confusion.png`, `faq_confusion.png`. Errors: `errors.json`.", ""]
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description="NLU evaluation on a held-out split")
    parser.add_argument("--seed", type=int, default=42, help="seed of the cross-validation folds")
    parser.add_argument("--folds", type=int, default=0, help="also run K-fold cross-validation")
    parser.add_argument("--no-semantic", action="store_true", help="skip the semantic matcher comparison")
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)

    grouped = read_nlu()
    held_out = frozen_heldout(grouped)
    train = {k: [t for t in v if t not in set(held_out.get(k, ()))] for k, v in grouped.items()}
    oos = [str(t) for t in (yaml.safe_load(OOS_FILE.read_text(encoding="utf-8")) or {}).get("out_of_scope", [])]
    categories = (yaml.safe_load(CATEGORIES_FILE.read_text(encoding="utf-8")) or {}).get("categories") or {} \
        if CATEGORIES_FILE.is_file() else {}
    result = evaluate_split(train, held_out, oos, held_out, categories)
    m = {**metrics(result["rows"], result["oos_rows"]), **category_metrics(result["case_rows"], result["oos_rows"])}
    pairs = confused_pairs(result["rows"])
    sem = {} if args.no_semantic else semantic_eval(train, held_out, result["rows"], oos)

    cv: dict = {}
    if args.folds > 1:
        runs = [metrics(r["rows"], r["oos_rows"])
                for r in (evaluate_split(tr, te, oos) for tr, te in kfold(grouped, args.folds, args.seed))]
        cv = {"folds": args.folds, "runs": runs}
        for name in ("intent_accuracy", "faq_top1"):
            values = [r[name] for r in runs]
            cv[f"{name}_mean"], cv[f"{name}_min"] = sum(values) / len(values), min(values)

    args.out.mkdir(parents=True, exist_ok=True)
    rows = result["rows"]
    plot_confusion([r["intent"] for r in rows], [r["classifier_intent"] for r in rows],
                   args.out / "intent_confusion.png", "Intents (held-out split, classifier)")
    faq_rows = [r for r in rows if r["faq_key"]]
    plot_confusion([r["faq_key"] for r in faq_rows], [r["predicted_faq_key"] or "-" for r in faq_rows],
                   args.out / "faq_confusion.png", "FAQ keys (held-out split, response selector)")
    errors = [r for r in rows if r["classifier_intent"] != r["intent"]
              or (r["faq_key"] and r["predicted_faq_key"] != r["faq_key"])]
    (args.out / "errors.json").write_text(json.dumps(
        {"in_scope": errors, "out_of_scope_answered": [r for r in result["oos_rows"] if r["predicted_intent"] not in FALLBACKS],
         "categories": [r for r in result["case_rows"] if not r["ok"]]},
        ensure_ascii=False, indent=2), encoding="utf-8")
    report = {"split": {"held_out": str(HELDOUT_FILE.relative_to(ROOT)), "categories": str(CATEGORIES_FILE.relative_to(ROOT))},
              "metrics": m, "targets": TARGETS,
              "confused_pairs": pairs, "semantic": sem, "cross_validation": cv}
    (args.out / "metrics.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    summary = summary_md(m, pairs, sem, cv, args)
    (args.out / "summary.md").write_text(summary, encoding="utf-8")
    print(summary)
    print(f"==> report: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}/summary.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
