"""Which "猜你想问" options a consumer sees: the semantic ranking decides
whether to answer, suggest or give up; all rankings decide what is offered."""
from __future__ import annotations

from actions.faq.index import Hit
from actions.faq.matcher import ANSWER, NONE, SUGGEST, decide, fuse
from actions.faq.settings import FaqSettings

KEYS = ["shipping_fee", "shipping_time", "order_tracking", "invoice", "samples"]


def ranking(*keys: str, top: float = 0.7) -> list:
    return [Hit(k, top - 0.05 * i, "") for i, k in enumerate(keys)]


def test_a_key_every_other_ranking_prefers_moves_up_but_keeps_its_semantic_score():
    semantic = ranking(*KEYS)
    fused = fuse(semantic, [ranking("shipping_time", "samples"), ranking("shipping_time", "invoice")], rrf_k=2.0)
    assert fused[0].key == "shipping_time" and fused[0].score == semantic[1].score
    assert sorted(h.key for h in fused) == sorted(KEYS)


def test_without_other_rankings_the_semantic_order_stands():
    semantic = ranking(*KEYS)
    assert fuse(semantic, [[], []], rrf_k=2.0) == semantic


def test_a_sure_semantic_match_is_answered_whatever_the_others_say():
    settings = FaqSettings(answer_threshold=0.6, answer_margin=0.04, suggest_threshold=0.5)
    d = decide(ranking(*KEYS, top=0.9), settings, [ranking("invoice"), ranking("invoice")])
    assert d.kind == ANSWER and d.key == "shipping_fee"


def test_an_unsure_match_offers_the_fused_top_three():
    settings = FaqSettings(answer_threshold=0.95, suggest_threshold=0.5, suggestions=3)
    d = decide(ranking(*KEYS), settings, [ranking("samples", "invoice"), ranking("samples")])
    assert d.kind == SUGGEST and [h.key for h in d.hits][0] == "samples" and len(d.hits) == 3


def test_far_from_every_faq_is_no_match_even_if_the_classifier_has_a_favourite():
    settings = FaqSettings(suggest_threshold=0.8)
    assert decide(ranking(*KEYS, top=0.4), settings, [ranking("invoice")]).kind == NONE
