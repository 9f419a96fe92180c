"""What the comparison before activation reports (bot/console/model_compare.py) and how a
training job reads validation output and snapshots its data (bot/console/train_job.py)."""
from __future__ import annotations

from pathlib import Path

from bot.console.model_compare import cases_digest, compare, eval_cases, predicted_label, still_valid
from bot.console.train_job import readable_errors, snapshot
from common.model_fingerprint import fingerprint

ROOT = Path(__file__).resolve().parents[2]


def parse(intent: str, key: str = "") -> dict:
    selector = {intent: {"response": {"intent_response_key": key}}} if key else {}
    return {"intent": {"name": intent}, "response_selector": selector}


def test_the_label_is_what_the_customer_gets():
    assert predicted_label(parse("faq", "faq/shipping_fee")) == "faq/shipping_fee"
    assert predicted_label(parse("nlu_fallback")) == "out_of_scope"
    assert predicted_label(parse("checkin")) == "checkin"


def test_better_worse_and_changed_predictions_are_listed():
    cases = [{"text": t, "label": l, "source": s} for t, l, s in
             [("a", "checkin", "ops"), ("b", "faq/x", "heldout"), ("c", "lottery", "heldout"), ("d", "greet", "x")]]
    active = ["lottery", "faq/x", "greet", "greet"]
    candidate = ["checkin", "faq/y", "checkin", "greet"]
    report = compare(cases, active, candidate)
    verdicts = {row["text"]: row["verdict"] for row in report["changed_predictions"]}
    assert verdicts == {"a": "better", "b": "worse", "c": "changed"}
    assert report["summary"]["active_accuracy"] == 0.5 and report["summary"]["candidate_accuracy"] == 0.5
    assert (report["summary"]["ops_active_right"], report["summary"]["ops_candidate_right"]) == (0, 1)
    assert [row["label"] for row in report["improved"]] == ["checkin"]
    assert [row["label"] for row in report["regressed"]] == ["faq/x"]


def test_ops_marked_messages_come_first_and_never_twice():
    cases = eval_cases({"多久发货": "faq/shipping_time", "新的问法": "faq/shipping_fee"})
    texts = [c["text"] for c in cases]
    assert len(texts) == len(set(texts)) and len(cases) > 1000
    assert {c["text"] for c in cases if c["source"] == "ops"} == {"多久发货", "新的问法"}


def test_validation_errors_point_at_the_file_ops_know(tmp_path):
    snap = tmp_path / "job" / "data"
    output = (f"YamlValidationException: Failed to validate '{snap}/data/nlu/faq.yml'. in Line 12: bad\n"
              "UserWarning: The utterance 'utter_x' is not used in any story or rule.\n")
    errors = readable_errors(output, snap)
    assert errors == [{"file": "data/nlu/faq.yml", "line": 12, "message": errors[0]["message"]}]
    assert str(snap) not in errors[0]["message"]


def test_a_snapshot_has_the_fingerprint_of_the_data_it_copied(tmp_path):
    snapshot(ROOT, tmp_path)
    assert fingerprint(tmp_path) == fingerprint(ROOT)


def test_a_stored_comparison_holds_only_for_the_same_models_and_test_messages(tmp_path):
    candidate, active, other = tmp_path / "new.tar.gz", tmp_path / "live.tar.gz", tmp_path / "older.tar.gz"
    cases = eval_cases({"新的问法": "faq/shipping_fee"})
    report = {"candidate": candidate.name, "active": active.name, "cases_digest": cases_digest(cases)}
    assert still_valid(report, candidate, active, {"新的问法": "faq/shipping_fee"})
    assert not still_valid(report, candidate, other, {"新的问法": "faq/shipping_fee"})  # another live model
    assert not still_valid(report, candidate, active, {})  # ops changed the marked messages
    assert not still_valid(report, candidate, active, {"新的问法": "faq/shipping_time"})
    assert not still_valid(None, candidate, active, {})


def test_a_models_predictions_are_parsed_once_per_test_set(tmp_path, monkeypatch):
    from bot.console import model_compare

    model = tmp_path / "nlu-core-abc.tar.gz"
    model.write_bytes(b"weights")
    parsed: list = []

    def parse(path, texts):
        parsed.append(list(texts))
        return [f"label-{t}" for t in texts]
    monkeypatch.setattr(model_compare, "parse_texts", parse)
    assert model_compare.predictions(model, ["a", "b"], "d1") == ["label-a", "label-b"]
    assert model_compare.predictions(model, ["a", "b"], "d1") == ["label-a", "label-b"]
    assert parsed == [["a", "b"]]  # the second comparison against this model parsed nothing
    model_compare.predictions(model, ["a", "c"], "d2")  # other test messages: parsed again
    assert parsed == [["a", "b"], ["a", "c"]]
