"""Validation of a parcel recipient: mainland mobile numbers and addresses.

Every check returns (value, problem): the problem names the reason the customer
is told about (it selects a domain response), None when the value is fine.
"""
from __future__ import annotations

import re
from typing import Optional, Tuple

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

_SEPARATORS = re.compile(r"[\s\-–—()（）]")


def check_phone(text: str) -> Tuple[str, Optional[str]]:
    """'+86 138-0013-8000' -> '13800138000'. Problems: chars, length, prefix."""
    digits = _SEPARATORS.sub("", str(text or ""))
    digits = re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)
    if not digits.isdigit():
        return digits, "chars"
    if len(digits) != 11:
        return digits, "length"
    if not re.fullmatch(r"1[3-9]\d{9}", digits):
        return digits, "prefix"
    return digits, None


def check_name(text: str) -> Tuple[str, Optional[str]]:
    name = re.sub(r"\s+", " ", str(text or "")).strip()
    if re.search(r"\d", name):
        return name, "digits"
    if not 2 <= len(name) <= 20:
        return name, "length"
    return name, None


def match_province(text: str) -> Optional[str]:
    text = str(text or "").strip()
    for full, short in _SHORT.items():
        if text.startswith(full) or text.startswith(short):
            return full
    return None


def split_address(text: str) -> Tuple[Optional[str], Optional[str], str]:
    """Best-effort split of a whole address into (province, city, detail)."""
    text = re.sub(r"\s+", "", str(text or ""))
    province = match_province(text)
    if not province:
        return None, None, text
    rest = text[len(province):] if text.startswith(province) else text[len(_SHORT[province]):]
    if province in MUNICIPALITIES:
        rest = rest[len(province):] if rest.startswith(province) else rest
        return province, province, rest
    match = re.match(r"^(.{2,9}?(市|自治州|地区|盟))", rest)
    if match:
        return province, match.group(1), rest[match.end():]
    return province, None, rest


def check_city(text: str, province: Optional[str]) -> Tuple[str, Optional[str]]:
    city = re.sub(r"\s+", "", str(text or ""))
    if province in MUNICIPALITIES and city.rstrip("市") == province.rstrip("市"):
        return province, None
    if re.search(r"[A-Za-z0-9]", city) or not 2 <= len(city) <= 12:
        return city, "city"
    return city, None


def check_detail(text: str) -> Tuple[str, Optional[str]]:
    detail = re.sub(r"\s+", " ", str(text or "")).strip()
    if len(detail) < 5:
        return detail, "detail"
    return detail, None
