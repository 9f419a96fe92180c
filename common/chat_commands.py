"""Messages with one exact meaning, turned into Rasa intents by the channel, not guessed by NLU.

A code is not language: "兑换 ABCD1234" (the 包裹卡 in the parcel), "邀请码 K7M2QP" (a
friend's 一客一码), a QR scene `pkg_<code>` / `ref_<code>`, "我的邀请", "报名焕肤营" and "到货通知我" are
recognised here (a scene is first turned into the words it stands for, `scene_text`) and handed to Rasa as `/intent{"entity": …}` messages. Consumers cannot
type such messages themselves (bot/input_guard.py strips a leading "/"), so the entities
come only from this module. The same patterns are the only place codes are parsed.
"""
from __future__ import annotations

import json
import re
from typing import Optional

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a printed card
PACKAGE_SCENE = "pkg_"
REFERRAL_SCENE = "ref_"
QUERY_LIMIT = 60

_CODE = r"([A-Za-z0-9]{6,16})"
_REDEEM = re.compile(r"\s*(?:兑换码?|兑奖|领奖|福利码|卡密)\s*[:：]?\s*" + _CODE + r"\s*[。！!.]?\s*")
_INVITE = re.compile(r"\s*(?:邀请码|推荐码)\s*[:：]?\s*" + _CODE + r"\s*[。！!.]?\s*")
_MY_INVITES = re.compile(r"\s*(?:我的邀请(?:码)?|邀请好友|我要邀请(?:好友)?|我的推荐码|邀请进度)\s*[。？?！!]?\s*")
_JOIN_CAMP = re.compile(r"\s*(?:我要|我想)?(?:报名|参加|加入)(?:一下)?(?:28天|二十八天)?(?:焕肤|打卡|护肤)?(?:训练)?营\s*[。！!～~]?\s*")
_RESTOCK = re.compile(r"(.{0,40}?)\s*(?:到货|补货|有货)了?\s*(?:通知|提醒|告诉)我\s*(?:一下|一声)?\s*[。！!～~]?\s*")


def _intent(name: str, **entities: str) -> str:
    return f"/{name}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def normalise_code(code: str) -> str:
    return code.strip().upper()


def typed(text: Optional[str]) -> Optional[str]:
    """The intent message for a typed command, or None for ordinary text."""
    if not text or len(text) > 80:
        return None
    found = _REDEEM.fullmatch(text)
    if found:
        return _intent("redeem_code", code=normalise_code(found.group(1)))
    found = _INVITE.fullmatch(text)
    if found:
        return _intent("use_invite", code=normalise_code(found.group(1)))
    if _MY_INVITES.fullmatch(text):
        return _intent("my_invites")
    if _JOIN_CAMP.fullmatch(text):
        return _intent("join_camp")
    found = _RESTOCK.fullmatch(text)
    if found:
        return _intent("restock_notify", query=text.strip()[:QUERY_LIMIT])
    return None


def scene_text(scene: str) -> Optional[str]:
    """What a scan of a code-carrying QR scene / 微信客服 scene_param says, as if typed:
    `pkg_<code>` is "兑换 <code>". ref_<code> arrivals stay greetings (the actions read
    the scene: the friend who invited them is counted on the first contact)."""
    scene = (scene or "").strip()
    code = scene[len(PACKAGE_SCENE):] if scene.startswith(PACKAGE_SCENE) else ""
    return f"兑换 {code}" if code and re.fullmatch(_CODE, code) else None
