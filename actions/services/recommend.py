"""Product picks from the demo catalogue by skin type, audience and request words."""
from __future__ import annotations

from typing import List, Optional, Set

from actions.services.catalog import Catalog, Product

# Words customers use for a skin type, to the tag value (NLU entity values are the same ids).
SKIN_WORDS = {
    "dry": ("干皮", "干性", "皮肤干", "干燥皮", "dry"),
    "oily": ("油皮", "油性", "大油田", "出油", "oily"),
    "combination": ("混合", "混油", "混干", "combination"),
    "sensitive": ("敏感", "过敏", "泛红", "sensitive"),
    "normal": ("中性", "正常皮", "normal"),
}


def normalise_skin(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    value = str(value).strip().lower()
    if value in SKIN_WORDS:
        return value
    return next((skin for skin, words in SKIN_WORDS.items() if any(w in value for w in words)), None)


def pick(catalog: Catalog, skin: str, audiences: Set[str], text: str = "", limit: int = 2) -> List[Product]:
    """Best matches first: audience fit, then words of the request, then skin fit."""
    def score(p: Product) -> tuple:
        skin_fit = skin in p.skin_types
        general = "all" in p.skin_types
        audience_fit = bool(set(p.audiences) & audiences)
        # products for a specific audience (孕期, 男士) only for that audience
        wrong_audience = bool(p.audiences) and p.audiences[0] in {"pregnant", "men"} and not audience_fit
        keyword = any(k in text for k in p.keywords)
        return (not wrong_audience, audience_fit, keyword, skin_fit, general)

    candidates = [p for p in catalog.products if skin in p.skin_types or "all" in p.skin_types]
    return sorted(candidates, key=score, reverse=True)[:limit]
