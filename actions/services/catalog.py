"""Typed views of the YAML catalogues under data/catalog/ (tags, rules, products,
campaigns, coupons). Loaded once per process: edit the YAML and restart.
CATALOG_DIR points at another directory of the same files (tests, staging)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

CATALOG_DIR = Path(__file__).resolve().parents[2] / "data" / "catalog"


def _load(name: str, directory: Optional[Path] = None) -> Dict[str, Any]:
    return yaml.safe_load(((directory or CATALOG_DIR) / name).read_text(encoding="utf-8")) or {}


@dataclass(frozen=True)
class TagGroup:
    id: str
    name: str
    exclusive: bool


@dataclass(frozen=True)
class Tag:
    id: str
    group: str
    name: str


@dataclass(frozen=True)
class Reward:
    kind: str  # coupon | points | physical
    name: str
    coupon: str = ""
    points: int = 0


@dataclass(frozen=True)
class Milestone:
    days: int
    reward: Reward


@dataclass(frozen=True)
class CheckinCampaign:
    id: str
    name: str
    points_per_day: int
    milestones: Tuple[Milestone, ...]
    # Web sessions may check in and collect daily points; streak rewards (coupons,
    # parcels, bonus points) go only to WeChat identities unless this is false.
    milestones_require_wechat: bool = True


@dataclass(frozen=True)
class Prize:
    id: str
    name: str
    kind: str
    stock: int
    weight: int
    coupon: str = ""
    points: int = 0


@dataclass(frozen=True)
class Lottery:
    id: str
    name: str
    start: datetime
    end: datetime
    any_tags: Tuple[str, ...]
    all_tags: Tuple[str, ...]
    none_tags: Tuple[str, ...]
    daily_limit: int
    total_limit: int
    no_prize_weight: int
    prizes: Tuple[Prize, ...]
    requires_wechat: bool = True  # web sessions are for trying the bot, not for prizes

    def running(self, now: datetime) -> bool:
        return self.start <= now <= self.end

    def eligible(self, tags: "set[str]") -> bool:
        return (
            (not self.any_tags or bool(tags & set(self.any_tags)))
            and set(self.all_tags) <= tags
            and not tags & set(self.none_tags)
        )

    def prize(self, prize_id: str) -> Optional[Prize]:
        return next((p for p in self.prizes if p.id == prize_id), None)


@dataclass(frozen=True)
class CouponType:
    id: str
    name: str
    benefit: str
    source: str  # generate | pool
    prefix: str
    valid_days: int
    max_issued: int
    requires_wechat: bool = False


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: int
    skin_types: Tuple[str, ...]
    audiences: Tuple[str, ...]
    keywords: Tuple[str, ...]
    pitch: str
    aliases: Tuple[str, ...] = ()  # short names consumers use (小绿瓶)


@dataclass(frozen=True)
class TagRule:
    id: str
    on: Tuple[str, ...]
    add: str
    count: int = 1
    within_days: int = 0
    min_streak: int = 0


@dataclass(frozen=True)
class ReferralReward:
    count: int  # the inviter's n-th counted invitee earns it
    coupon: str
    name: str


@dataclass(frozen=True)
class Referrals:
    """一客一码 (campaigns.yml `referrals`): who counts, how many a day, what they earn."""
    daily_cap: int = 10  # invitees counted per inviter per day (more are recorded, not counted)
    new_within_s: int = 86400  # an invitee counts only if they became a customer this recently
    rewards: Tuple[ReferralReward, ...] = ()

    def reward_at(self, count: int) -> Optional[ReferralReward]:
        return next((r for r in self.rewards if r.count == count), None)

    def next_reward(self, count: int) -> Optional[ReferralReward]:
        return next((r for r in sorted(self.rewards, key=lambda r: r.count) if r.count > count), None)


@dataclass(frozen=True)
class Camp:
    """A 28-day camp cohort (campaigns.yml `camps`; tips from camp_tips.yml)."""
    id: str
    name: str
    enrol_start: datetime
    enrol_end: datetime
    days: int
    tips: Tuple[str, ...]

    def open_for_enrolment(self, now: datetime) -> bool:
        return self.enrol_start <= now <= self.enrol_end

    def tip(self, day: int) -> str:
        """The tip of camp day `day` (1-based); the last one again if there are fewer."""
        return self.tips[min(day, len(self.tips)) - 1] if self.tips else ""


@dataclass(frozen=True)
class MessageTemplate:
    """A 公众号 模板消息 for one notice kind (templates.yml)."""
    template_id: str
    fields: Dict[str, str]

    def data(self, values: Dict[str, str]) -> Dict[str, Dict[str, str]]:
        """The template's `data`, each value within WeChat's length for its field type."""
        filled = {}
        for key, pattern in self.fields.items():
            value = pattern
            for name, text in values.items():
                value = value.replace("{" + name + "}", text)
            limit = 20 if key.startswith("thing") else 32 if key.startswith("character_string") else 200
            filled[key] = {"value": value[:limit]}
        return filled


@dataclass
class Catalog:
    timezone: str
    groups: Dict[str, TagGroup]
    tags: Dict[str, Tag]
    rules: List[TagRule]
    products: List[Product]
    checkin: CheckinCampaign
    lotteries: List[Lottery]
    coupons: Dict[str, CouponType]
    formats: Dict[str, Any] = field(default_factory=dict)
    referrals: Referrals = field(default_factory=Referrals)
    camps: List[Camp] = field(default_factory=list)
    templates: Dict[str, MessageTemplate] = field(default_factory=dict)  # notice kind → configured template
    _by_name: Dict[str, List[str]] = field(default_factory=dict)

    def resolve_tag(self, text: str) -> Optional[str]:
        """A tag id from an id, "组名:显示名" or an unambiguous display name (SCRM exports use names)."""
        text = text.strip()
        if text in self.tags:
            return text
        if not self._by_name:
            for tag in self.tags.values():
                group = self.groups[tag.group].name
                for key in (tag.name, f"{group}:{tag.name}", f"{group}：{tag.name}"):
                    self._by_name.setdefault(key, []).append(tag.id)
        found = self._by_name.get(text, [])
        return found[0] if len(found) == 1 else None

    def exclusive_siblings(self, tag_id: str) -> List[str]:
        tag = self.tags[tag_id]
        if not self.groups[tag.group].exclusive:
            return []
        return [t.id for t in self.tags.values() if t.group == tag.group and t.id != tag_id]

    def lottery(self, lottery_id: str) -> Optional[Lottery]:
        return next((c for c in self.lotteries if c.id == lottery_id), None)


def _reward(raw: Dict[str, Any]) -> Reward:
    return Reward(kind=raw["kind"], name=str(raw.get("name", "")), coupon=raw.get("coupon", ""), points=int(raw.get("points", 0)))


def _lottery(raw: Dict[str, Any]) -> Lottery:
    elig = raw.get("eligibility") or {}
    limits = raw.get("limits") or {}
    return Lottery(
        id=raw["id"],
        name=raw["name"],
        start=datetime.fromisoformat(str(raw["start"])),
        end=datetime.fromisoformat(str(raw["end"])),
        any_tags=tuple(elig.get("any_tags") or ()),
        all_tags=tuple(elig.get("all_tags") or ()),
        none_tags=tuple(elig.get("none_tags") or ()),
        daily_limit=int(limits.get("daily", 1)),
        total_limit=int(limits.get("total", 1)),
        no_prize_weight=int(raw.get("no_prize_weight", 0)),
        requires_wechat=bool(raw.get("requires_wechat", True)),
        prizes=tuple(
            Prize(id=p["id"], name=p["name"], kind=p["kind"], stock=int(p["stock"]), weight=int(p["weight"]),
                  coupon=p.get("coupon", ""), points=int(p.get("points", 0)))
            for p in raw.get("prizes") or ()
        ),
    )


def load_catalog(directory: Optional[Path] = None) -> Catalog:
    tags_raw = _load("tags.yml", directory)
    campaigns = _load("campaigns.yml", directory)
    groups = {g["id"]: TagGroup(g["id"], g["name"], bool(g.get("exclusive"))) for g in tags_raw["groups"]}
    tags = {t["id"]: Tag(t["id"], t["group"], t["name"]) for t in tags_raw["tags"]}
    lotteries = [_lottery(c) for c in campaigns.get("lotteries") or ()]
    for lottery in lotteries:  # each campaign brings its participant and winner tags
        tags[f"campaign:{lottery.id}"] = Tag(f"campaign:{lottery.id}", "campaign", lottery.name)
        tags[f"campaign:{lottery.id}:winner"] = Tag(f"campaign:{lottery.id}:winner", "campaign", f"{lottery.name}中奖")
    chk = campaigns["checkin"]
    return Catalog(
        timezone=campaigns.get("timezone", "Asia/Shanghai"),
        groups=groups,
        tags=tags,
        rules=[
            TagRule(id=r["id"], on=tuple(r["events"]), add=r["add"], count=int(r.get("count", 1)),
                    within_days=int(r.get("within_days", 0)), min_streak=int(r.get("min_streak", 0)))
            for r in _load("tag_rules.yml", directory).get("tag_rules") or ()
        ],
        products=[
            Product(id=p["id"], name=p["name"], price=int(p["price"]), skin_types=tuple(p["skin_types"]),
                    audiences=tuple(p.get("audiences") or ()), keywords=tuple(p.get("keywords") or ()), pitch=p["pitch"],
                    aliases=tuple(p.get("aliases") or ()))
            for p in _load("products.yml", directory)["products"]
        ],
        checkin=CheckinCampaign(
            id=chk["id"], name=chk["name"], points_per_day=int(chk.get("points_per_day", 0)),
            milestones=tuple(sorted((Milestone(int(m["days"]), _reward(m["reward"])) for m in chk["milestones"]), key=lambda m: m.days)),
            milestones_require_wechat=bool(chk.get("milestones_require_wechat", True)),
        ),
        lotteries=lotteries,
        coupons={
            c["id"]: CouponType(id=c["id"], name=c["name"], benefit=c.get("benefit", ""), source=c.get("source", "generate"),
                                prefix=c.get("prefix", ""), valid_days=int(c.get("valid_days", 30)), max_issued=int(c.get("max_issued", 0)),
                                requires_wechat=bool(c.get("requires_wechat", False)))
            for c in _load("coupons.yml", directory)["coupons"]
        },
        formats=_load("formats.yml", directory),
        referrals=_referrals(campaigns.get("referrals") or {}),
        camps=_camps(campaigns.get("camps") or (), _optional("camp_tips.yml", directory).get("camp_tips") or {}),
        templates={str(kind): MessageTemplate(str(t["template_id"]), {str(k): str(v) for k, v in (t.get("fields") or {}).items()})
                   for kind, t in (_optional("templates.yml", directory).get("templates") or {}).items()
                   if t and t.get("template_id")},
    )


def _optional(name: str, directory: Optional[Path]) -> Dict[str, Any]:
    """A catalogue file newer than some copies of the catalogue (tests, staging)."""
    return _load(name, directory) if ((directory or CATALOG_DIR) / name).is_file() else {}


def _camps(raw: Any, tips: Dict[str, Any]) -> List[Camp]:
    return [Camp(id=str(c["id"]), name=str(c["name"]), enrol_start=datetime.fromisoformat(str(c["enrol_start"])),
                 enrol_end=datetime.fromisoformat(str(c["enrol_end"])), days=int(c.get("days", 28)),
                 tips=tuple(str(t) for t in tips.get(str(c["id"])) or ())) for c in raw]


def _referrals(raw: Dict[str, Any]) -> Referrals:
    rewards = tuple(sorted((ReferralReward(int(r["count"]), str(r["coupon"]), str(r.get("name") or r["coupon"]))
                            for r in raw.get("rewards") or ()), key=lambda r: r.count))
    return Referrals(daily_cap=int(raw.get("daily_cap", 10)), new_within_s=int(raw.get("new_within_s", 86400)),
                     rewards=rewards)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    directory = os.environ.get("CATALOG_DIR")
    return load_catalog(Path(directory) if directory else None)
