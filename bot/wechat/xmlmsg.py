"""Parse callback XML safely and build passive-reply XML.

defusedxml refuses DTDs and entity declarations (billion laughs, external
entities); a size limit refuses huge bodies before parsing.
"""
from __future__ import annotations

import time
from typing import Dict, Union
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from bot.wechat.settings import max_body_bytes

XmlValue = Union[str, Dict[str, "XmlValue"]]


class BadXml(ValueError):
    """The body is not acceptable XML; the caller answers 400."""


def _flatten(element: Element) -> XmlValue:
    children = list(element)
    if not children:
        return element.text or ""
    return {child.tag: _flatten(child) for child in children}


def parse_xml(body: Union[bytes, str], limit: int = 0) -> Dict[str, XmlValue]:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    limit = limit or max_body_bytes()
    if len(raw) > limit:
        raise BadXml(f"body of {len(raw)} bytes is over the {limit}-byte limit")
    if not raw.strip():
        raise BadXml("empty body")
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise BadXml(f"forbidden XML construct: {type(error).__name__}") from error
    except ParseError as error:
        raise BadXml(f"malformed XML: {error}") from error
    if root.tag != "xml":
        raise BadXml(f"unexpected root element <{root.tag}>")
    parsed = _flatten(root)
    return parsed if isinstance(parsed, dict) else {}


def cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str) -> str:
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )
