"""Mask personal data before it reaches a log line."""
from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_phone(text: str) -> str:
    return _PHONE.sub(r"\1****\2", text)


def mask_id(identifier: object) -> str:
    """Shorten an openid/external_userid for logs: enough to correlate, not to reuse."""
    value = str(identifier or "")
    return value if len(value) <= 8 else f"{value[:4]}…{value[-4:]}"


def mask_address(address: str) -> str:
    """Keep the region, hide the detail: '上海市浦东新区张江路88号3楼' -> '上海市浦东新区张江路***'."""
    match = re.search(r"(路|街|道|巷|弄|村|镇)", address)
    return address if not match else address[: match.end()] + "***"
