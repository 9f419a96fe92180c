"""Mask personal data before it is logged, stored in a tracker or the inbox.

Masking fails closed: a span that *looks* like personal data is masked even
when it is not recognised in detail (an unknown road name, a mistyped phone).

What is masked, and what stays for the reader to work with:

    mainland mobile   '+86 138-0013-8000', '１３８００１３８０００' -> '138****8000'
                      (any 11-digit number starting with 1, with spaces, dashes,
                      a +86/0086 prefix or full-width digits)
    landline          '010-12345678', '(0571)8888 6666'           -> '010-****78'
    ID-card number    18 digits (or X) / 15 digits, date-shaped   -> '110**************X'
    e-mail            'zhang.san@example.com'                      -> 'z***@example.com'
    address           the region prefix stays, the rest goes:
                      '北京市朝阳区望京SOHO塔3-1502'               -> '北京市朝阳区***'
                      '望京SOHO塔3-1502' (no region)               -> '***'

Not masked, on purpose (documented so nobody "fixes" it into uselessness):
    - digit runs that are neither phone- nor ID-shaped: order numbers,
      tracking numbers, coupon codes ('2026112400012345'), prices, dates;
    - 400/800 service hotlines (a company's published number, not a person's);
    - a region alone ('我在杭州市西湖区'): a region names no one;
    - names in free text (nothing marks them); the tracker store masks the
      name slot and the answer to the name question instead (`mask_name`).

Everything here is stdlib only (common/ is imported by both runtimes).
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

MASK = "***"

# Full-width digits and signs map one-to-one to ASCII, so spans found in the
# normalised text are spans of the original.
_FULL_WIDTH = str.maketrans(
    "０１２３４５６７８９＋－　（）＠．＃Ｘｘ",
    "0123456789+- ()@.#Xx",
)

_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s\-]?)?(?:\(\+?86\)\s?)?1(?:[ \-]?\d){10}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(\(0\d{2,3}\)|0\d{2,3})[\s\-]?(\d{3,4})[\s\-]?(\d{4})(?:[\s\-]?(?:转|ext\.?)\s?\d{1,5})?(?!\d)")
_ID_CARD = re.compile(
    r"(?<![\dA-Za-z])(?:[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"|[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?![\dA-Za-z])"
)
_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")

# --- addresses -------------------------------------------------------------

# Provincial-level divisions, short forms (matched with or without 省/市/自治区).
_PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建",
    "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海",
    "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门", "台湾",
)
_PROVINCE = re.compile(
    "(?:" + "|".join(sorted(_PROVINCES, key=len, reverse=True)) + ")"
    r"(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)?"
)
_CJK = r"\u4e00-\u9fff"
# A city / prefecture, then a district / county, right after what came before.
_CITY = re.compile(rf"[{_CJK}]{{1,6}}?(?:市(?!场)|自治州|地区|盟)")
_ESTATE_PART = re.compile(r"园|苑|家|村|庄|[东南西北中]区$")
_DISTRICT = re.compile(rf"[{_CJK}]{{1,6}}?(?<![小社园校景厂矿营])(?:区|县|旗|市(?!场))")

# Characters an address is written with (no spaces, no sentence punctuation).
_ADDRESS_CHAR = re.compile(rf"[{_CJK}A-Za-z0-9#\-－—·()（）]")
# Words that end a lead-in ("我家地址是", "寄到"): an address span starts after them.
_LEAD_IN = re.compile(r"(地址是|地址为|地址|住在|寄到|送到|发到|邮到|收货|我在|我住|是|在|到|往|:|：)")

_UNIT = r"(?:号楼|号院|栋|幢|座|单元|室|层|楼|号|弄|巷|里)"
_ROAD = r"(?:路|街|大道|大街|巷|弄|胡同|道)"
_PLACE = r"(?:小区|大厦|SOHO|soho|Soho|花园|公寓|广场|大楼|家园|新村|苑|写字楼|园区)"
_PLACE_WEAK = r"(?:塔|社区|村|镇|乡|屯|中心|大院)"
# Strong signals: any one makes a span an address.
_NUM = r"(?:\d+|[一二三四五六七八九十百千零〇两]+)"  # house numbers are written both ways
_SIGNALS = (
    re.compile(rf"[{_CJK}A-Za-z]{{1,12}}{_ROAD}\s?{_NUM}\s?(?:号|弄|巷|-)"),   # 文三路100号, 长乐路 1200 弄, 一百号
    re.compile(rf"(?:\d+[A-Za-z]?|[一二三四五六七八九十百千零〇]+)\s?(?:号楼|号院|栋|幢|座|单元|室)"),  # 3栋 2单元 1502室 B座 五栋
    re.compile(r"\d+\s?(?:层|楼)(?!\s?(?:的|主|下|上))"),                  # 5楼 12层
    re.compile(r"(?<![\d.])\d{1,4}-\d{3,5}(?![\d.%]|\s?(?:元|块|天|个|ml|g|号|日|月|年|点|cm|mm))"),  # 3-1502
    re.compile(rf"[{_CJK}A-Za-z]{{2,}}{_PLACE}"),                         # 望京SOHO 幸福小区
    re.compile(r"(?:村|屯|镇|乡)[^\W\d_]{0,4}?[一二三四五六七八九十\d]+(?:组|队|社|号)"),  # 某某村三组
    re.compile(rf"[{_CJK}]{{2,12}}(?:路|街|大道|大街|胡同)(?![{_CJK}])"),  # ...文三路 (end of a word)
)
# Weak signals count only together with a region in the same span.
_WEAK = re.compile(rf"{_ROAD}|{_UNIT}|{_PLACE}|{_PLACE_WEAK}")

_Span = Tuple[int, int, str]


def _normalise(text: str) -> str:
    return text.translate(_FULL_WIDTH)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# --- single values -----------------------------------------------------------

def mask_phone(text: str) -> str:
    """Mobile numbers and landlines in `text` masked; everything else kept."""
    return _apply(str(text or ""), [_mobile_spans, _landline_spans])


def _mask_mobile(number: str) -> str:
    digits = _digits(number)[-11:]
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id(identifier: object) -> str:
    """Shorten an openid/external_userid for logs: enough to correlate, not to reuse."""
    value = str(identifier or "")
    return value if len(value) <= 8 else f"{value[:4]}…{value[-4:]}"


def mask_name(name: object) -> str:
    """'张三' -> '张*', '欧阳娜娜' -> '欧***': the first character, for a human to recognise."""
    value = str(name or "").strip()
    if not value:
        return ""
    return value[0] + "*" * min(max(len(value) - 1, 1), 3)


def region_prefix(address: str) -> str:
    """The province/city/district at the start of `address` ('' if none is recognised)."""
    text = _normalise(str(address or ""))
    end = 0
    match = _PROVINCE.match(text)
    if match:
        end = match.end()
    match = _CITY.match(text, end)
    if match:
        end = match.end()
    match = _DISTRICT.match(text, end)
    # with nothing before it, a "district" may be a block of a housing estate
    # ('幸福家园北区'): then only a plain name counts
    if match and (end or not _ESTATE_PART.search(match.group())):
        end = match.end()
    return str(address)[:end]


def mask_address(address: object) -> str:
    """Keep the region, hide the rest, whatever the rest is (fails closed):
    '北京市朝阳区望京SOHO塔3-1502' -> '北京市朝阳区***'; no region recognised -> '***'."""
    value = str(address or "")
    if not value.strip():
        return value
    if value.endswith(MASK) and not _has_detail(value[: -len(MASK)]):
        return value  # already masked
    keep = region_prefix(value)
    return keep + MASK if len(keep) < len(value) else keep


def _has_detail(text: str) -> bool:
    return any(p.search(text) for p in _SIGNALS) or bool(re.search(r"\d", text))


# --- free text ---------------------------------------------------------------

def _mobile_spans(text: str) -> List[_Span]:
    return [(m.start(), m.end(), _mask_mobile(m.group())) for m in _MOBILE.finditer(text)]


def _landline_spans(text: str) -> List[_Span]:
    return [(m.start(), m.end(), f"{m.group(1).strip('()')}-****{m.group(3)[-2:]}") for m in _LANDLINE.finditer(text)]


def _id_spans(text: str) -> List[_Span]:
    return [(m.start(), m.end(), m.group()[:3] + "*" * (len(m.group()) - 4) + m.group()[-1]) for m in _ID_CARD.finditer(text)]


def _email_spans(text: str) -> List[_Span]:
    return [(m.start(), m.end(), f"{m.group(1)[0]}***@{m.group(2)}") for m in _EMAIL.finditer(text)]


def _address_spans(text: str) -> List[_Span]:
    """Runs of address characters that carry an address signal, masked after
    their region prefix. The run starts after a lead-in word ('我家地址是')."""
    spans: List[_Span] = []
    for run in re.finditer(rf"(?:{_ADDRESS_CHAR.pattern})+", text):
        start, end = run.start(), run.end()
        body = run.group()
        # lead-ins before the address ("寄到", "我住在") stay readable
        lead_end = 0
        for lead in _LEAD_IN.finditer(body):
            if _is_address(body[lead.end():]):
                lead_end = lead.end()
            else:
                break
        candidate = body[lead_end:]
        if not _is_address(candidate):
            continue
        # words before a region inside the run ("快递寄上海市…") stay readable too
        if not region_prefix(candidate):
            province = _PROVINCE.search(candidate)
            if province and _is_address(candidate[province.start():]):
                lead_end += province.start()
                candidate = body[lead_end:]
        # trailing chatter after the address ("吧", "谢谢") is lost: fail closed
        masked = mask_address(candidate)
        if masked != candidate:
            spans.append((start + lead_end, end, masked))
    return spans


def _is_address(text: str) -> bool:
    if not text:
        return False
    if any(p.search(text) for p in _SIGNALS):
        return True
    prefix = region_prefix(text)
    return bool(prefix) and bool(_WEAK.search(text[len(prefix):]))


def _hotline_spans(text: str) -> List[_Span]:
    # claimed (and kept as they are) so no other detector takes them for a phone or an address
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"(?<!\d)[48]00[\s\-]?\d{3}[\s\-]?\d{4}(?!\d)", text)]


_DETECTORS: Tuple[Callable[[str], List[_Span]], ...] = (
    _hotline_spans, _email_spans, _id_spans, _mobile_spans, _landline_spans,
)


def _apply(text: str, detectors, addresses: bool = False) -> str:
    normal = _normalise(text)
    spans: List[_Span] = []
    work = normal
    for detect in detectors:
        for start, end, repl in detect(work):
            spans.append((start, end, repl))
            # a found span is not searched again (nor taken for an address part)
            work = work[:start] + "\x00" * (end - start) + work[end:]
    if addresses:
        spans.extend(_address_spans(work))
    if not spans:
        return text
    out, pos = [], 0
    for start, end, repl in sorted(spans):
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(repl)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_text(text: Optional[str]) -> str:
    """Every phone number, ID-card number, e-mail and address inside free text
    masked (for logs, the inbox, stored conversations); the rest kept as is."""
    if not text:
        return text or ""
    return _apply(str(text), _DETECTORS, addresses=True)


def looks_personal(text: Optional[str]) -> bool:
    """True when mask_text would change `text`."""
    return bool(text) and mask_text(text) != text


# --- form slots ----------------------------------------------------------------

# The prize form's slots that hold personal data (domain.yml), and how each is
# masked wherever it is stored outside the claim record (the Rasa tracker).
_SLOT_MASKS: Dict[str, Callable[[str], str]] = {
    "recipient_name": mask_name,
    "recipient_phone": lambda v: _phone_answer(v),
    "address_province": mask_address,
    "address_city": mask_address,
    "address_detail": mask_address,
}
PERSONAL_SLOTS: Tuple[str, ...] = tuple(_SLOT_MASKS)


_LEFT_DIGITS = re.compile(r"[\d０-９零〇一二三四五六七八九幺两]{3,}")
_MASKED_NUMBER = re.compile(r"\d{3}\*{4}\d{4}|0\d{2,3}-\*{4}\d{2}")


def _phone_answer(value: str) -> str:
    masked = mask_text(value)
    # fails closed: a number nothing recognises ("一三八…", a typo) is hidden whole
    return MASK if _LEFT_DIGITS.search(_MASKED_NUMBER.sub("", masked)) else masked


def mask_slot(name: str, value: Any) -> Any:
    """The stored form of a slot value: personal slots masked, other text through mask_text."""
    if value is None or isinstance(value, bool):
        return value
    if name in _SLOT_MASKS:
        text = str(value)
        if _is_masked(name, text):
            return text
        return _SLOT_MASKS[name](text)
    if isinstance(value, str):
        return mask_text(value)
    return value


def _is_masked(name: str, text: str) -> bool:
    """A value this module produced already (masking must be idempotent)."""
    if name == "recipient_name":
        return len(text) >= 2 and set(text[1:]) == {"*"}
    if name == "recipient_phone":
        return _phone_answer(text) == text
    return mask_address(text) == text


# --- logs ------------------------------------------------------------------------

_installed = False


def install_log_masking() -> None:
    """Mask every log record of this process (message and traceback) with mask_text.

    Fails closed: a log call anywhere (ours, Rasa's, a library's) that puts a
    user's text into a message cannot write a raw phone number or address.
    Installed once per process by the runtimes' entry points."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
            masked = mask_text(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and not record.exc_text:
                record.exc_text = mask_text(formatter.formatException(record.exc_info))
        except Exception:  # a broken log call must stay someone else's problem
            pass
        return record

    logging.setLogRecordFactory(masked_record)
