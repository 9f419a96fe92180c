"""Validation of a parcel recipient: name, mainland mobile number, address.

Every check returns (value, problem): the problem names the reason the customer
is told about (it selects a domain response), None when the value is fine.

Addresses are read with JioNLP's location parser (`jionlp.parse_location`,
Apache-2.0, maintained, ships the administrative division table of mainland
China with its aliases and renamed districts), which splits a one-line address
into province / city / district / rest and fills in a province or city the
customer left out ("杭州西湖区…" is in 浙江省). Without it installed the
module still works on the province table below (provinces only, logged once),
and tests/actions/test_prize_form.py fails so a missing dependency is noticed.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Optional, Tuple

logger = logging.getLogger(__name__)

# Provincial-level divisions of mainland China (Hong Kong, Macao and Taiwan are
# shipped by a different process and are not accepted here).
PROVINCES = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省",
    "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省",
    "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "内蒙古自治区", "广西壮族自治区",
    "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
)
MUNICIPALITIES = {"北京市", "天津市", "上海市", "重庆市"}
_SHORT = {p: re.sub(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)$", "", p) for p in PROVINCES}
# jionlp's placeholder for the cities without districts (东莞市, 中山市, 儋州市, 嘉峪关市)
_NO_DISTRICTS = "市直辖行政区划"

MIN_REST = 3  # what follows the district: a street and a number at least ("文三路9号")


# --- names --------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffA-Za-z·•・.\s]+")
# Words that make a text a question or a request rather than a name.
_QUESTION = re.compile(
    r"[?？吗呢嘛]|多少|怎么|怎样|什么|为什么|为啥|咋|几[天号点个块元钱时]|哪[里儿个些]|能不能|可不可以|可以吗|是不是|有没有|请问"
    r"|运费|邮费|包邮|快递|发货|物流|退货|退款|优惠|积分|签到|抽奖|人工|客服"
)
# Replies that are not a name. (The NLU's intent is no help here: on the current
# model "王芳" reads as affirm at 0.92 and "周杰伦" as out_of_scope at 1.0.)
NOT_A_NAME = {
    "好", "好的", "好滴", "好吧", "嗯", "嗯嗯", "哦", "噢", "是", "是的", "对", "对的", "行", "可以", "ok", "OK",
    "谢谢", "谢啦", "多谢", "你好", "您好", "哈喽", "在吗", "在", "哈哈", "哈哈哈", "呵呵", "不知道", "随便",
    "没有", "没", "不要", "不用", "不用了", "算了", "再见", "拜拜", "收到", "明白", "知道了", "我", "本人", "自己",
}


def check_name(text: str) -> Tuple[str, Optional[str]]:
    """2-20 characters of Chinese or Latin letters and the middle dot of names
    like 阿卜杜·艾力. Problems: digits, question, chars, length, not_a_name."""
    name = re.sub(r"\s+", " ", str(text or "")).strip()
    name = re.sub(r"[•・.]", "·", name)
    if re.search(r"\d", name):
        return name, "digits"
    if _QUESTION.search(name):
        return name, "question"
    if not _NAME_CHARS.fullmatch(name or " "):
        return name, "chars"
    if name.lower() in {w.lower() for w in NOT_A_NAME}:
        return name, "not_a_name"
    if not 2 <= len(name) <= 20:
        return name, "length"
    return name, None


# --- phones -------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-–—()（）.]")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}|\d{7,8}|400\d{7}|800\d{7}")


def check_phone(text: str) -> Tuple[str, Optional[str]]:
    """'+86 138-0013-8000' -> '13800138000'. Problems: chars, landline, length, prefix."""
    digits = _SEPARATORS.sub("", str(text or ""))
    digits = re.sub(r"^(\+?86|0086)(?=1\d{10}$)", "", digits)
    if not digits.isdigit():
        return digits, "chars"
    if _LANDLINE.fullmatch(digits) and not digits.startswith("1"):
        return digits, "landline"
    if len(digits) != 11:
        return digits, "length"
    if not re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits, "prefix"
    return digits, None


# --- addresses ----------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    """What a one-line address says; None where it says nothing."""
    province: Optional[str]
    city: Optional[str]
    district: Optional[str]
    rest: str  # street, number, building, floor

    @property
    def detail(self) -> str:
        """District and rest: what the address_detail slot keeps."""
        return f"{self.district or ''}{self.rest}"


@lru_cache(maxsize=1)
def _jionlp() -> Any:
    try:
        # jionlp and jiojio print a banner on import: keep it out of the server's output
        with contextlib.redirect_stdout(io.StringIO()):
            import jionlp
        return jionlp
    except ImportError:
        logger.error("jionlp is not installed: addresses are checked against the province table only")
        return None


@lru_cache(maxsize=1)
def _divisions() -> Dict[str, Any]:
    jio = _jionlp()
    return jio.china_location_loader() if jio else {}


def parser_available() -> bool:
    return _jionlp() is not None


def _clean(text: str) -> str:
    return re.sub(r"[\s,，、;；]+", "", str(text or ""))


def named_province(text: str) -> Optional[str]:
    """The province a text starts with, as typed (not inferred from a city)."""
    text = _clean(text)
    for full, short in _SHORT.items():
        if text.startswith(full) or text.startswith(short):
            return full
    return None


def parse(text: str) -> Place:
    text = _clean(text)
    jio = _jionlp()
    if jio is None:
        return _parse_provinces_only(text)
    try:
        found = jio.parse_location(text, town_village=False, change2new=True)
    except Exception as error:  # a parser bug must not break the form: the answer is asked again
        logger.warning("Address parser failed (%s)", type(error).__name__)
        return Place(None, None, None, text)
    province = found.get("province")
    if province not in PROVINCES:  # Hong Kong, Macao, Taiwan, or nothing
        return Place(None, None, None, text)
    city = found.get("city")
    # a municipality repeats itself as its city: "上海浦东新区" -> 上海市 / 上海市
    return Place(province, city, found.get("county"), found.get("detail") or "")


def _parse_provinces_only(text: str) -> Place:
    province = named_province(text)
    if not province:
        return Place(None, None, None, text)
    rest = text[len(province):] if text.startswith(province) else text[len(_SHORT[province]):]
    if province in MUNICIPALITIES:
        return Place(province, province, None, rest.removeprefix(province).removeprefix(_SHORT[province]))
    match = re.match(r"^(.{2,9}?(市|自治州|地区|盟))", rest)
    if match:
        return Place(province, match.group(1), None, rest[match.end():])
    return Place(province, None, None, rest)


def city_has_districts(province: str, city: str) -> bool:
    """False for the few cities whose towns report directly to the city (东莞市)."""
    divisions = _divisions()
    if not divisions:
        return False  # without the table nothing can be checked
    children = [k for k in (divisions.get(province) or {}).get(city) or {} if not k.startswith("_")]
    return bool(children) and children != [_NO_DISTRICTS]


def detail_problem(place: Place) -> Optional[str]:
    """None when the street part can be posted: a district (where the city has
    them) and a street with a number. Problems: detail (too short), district."""
    if len(place.rest) < MIN_REST:
        return "detail"
    if not place.district and place.province and place.city and city_has_districts(place.province, place.city):
        return "district"
    return None


def read_province(text: str) -> Tuple[Optional[Place], Optional[str]]:
    """The answer to the province question, which may be the whole address.
    Problem: province (no mainland province recognised)."""
    place = parse(text)
    if not place.province:
        return None, "province"
    return place, None


def read_city(text: str, province: Optional[str]) -> Tuple[Optional[Place], Optional[str]]:
    """The answer to the city question, in the province given before, unless the
    answer names a province itself (then it is a whole address and wins).
    Problems: city (not recognised), city_province (a city of another province)."""
    if named_province(text) or not province:
        place = parse(text)
    else:
        place = parse(province + _clean(text).removeprefix(province).removeprefix(_SHORT.get(province, "")))
    if not place.city and province and not named_province(text):
        alone = parse(text)  # "广州" after 浙江省: a real city, in another province
        if alone.city and alone.province != province:
            return alone, "city_province"
    if not place.city:
        return None, "city"
    if province and place.province != province and not named_province(text):
        return place, "city_province"
    return place, None


def read_detail(text: str, province: str, city: str, district: Optional[str] = None) -> Tuple[Place, Optional[str]]:
    """The answer to the detail question, read after the province and city given
    before (and a district recognised earlier). Problems: detail, district."""
    typed = _clean(text)
    place = parse(province + (city if city != province else "") + typed.removeprefix(province).removeprefix(city))
    if place.province != province or place.city != city:
        # the parser read the text as somewhere else: keep what was asked, keep the text
        place = Place(province, city, None, typed)
    if not place.district and district and "*" not in district:  # a masked value is no district
        place = Place(province, city, district, place.rest)
    return place, detail_problem(place)
