"""一客一码: each customer's invite code, and friends who arrive with it.

`{brand}:cust:<cid>:ref_code` → the customer's code, `{brand}:ref:code:<CODE>` → cid (made
once, SETNX). A friend arrives with the code in a QR scene / 微信客服 scene_param
(`ref_<code>`) or types "邀请码 <code>". refer.lua counts them once: a new customer
(created within `new_within_s`), never oneself, never a person invited before by anyone
(one customer id per person: unionid and channel ids map to it), at most `daily_cap` a
day per inviter; the reward at a configured count goes through the grant outbox and the
inviter's notice through the notice outbox (common/notices) in the same step.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import redis.asyncio as aioredis

from actions import outbox
from actions.services import tags
from actions.services.catalog import Catalog, ReferralReward
from actions.services.clock import day_number, iso
from actions.services.customers import key
from actions.services.store import TAG, scripts
from common import notices
from common.chat_commands import CODE_ALPHABET, REFERRAL_SCENE, normalise_code

CODE_PREFIX = TAG + "ref:code:"
INVITEES = TAG + "ref:invitees"
CODE_LENGTH = 6
REFERRAL_TAG = "channel:referral"


async def code_of(client: aioredis.Redis, cid: str) -> str:
    """The customer's invite code, made on first ask and never changed."""
    found = await client.get(key(cid, "ref_code"))
    if found:
        return found
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if await client.set(CODE_PREFIX + code, cid, nx=True):
            break
    if await client.set(key(cid, "ref_code"), code, nx=True):
        return code
    await client.delete(CODE_PREFIX + code)  # a concurrent ask made one first: keep that one
    return await client.get(key(cid, "ref_code"))


async def inviter_of(client: aioredis.Redis, code: str) -> Optional[str]:
    return await client.get(CODE_PREFIX + normalise_code(code))


def share_link(code: str) -> str:
    """A 微信客服 link that carries the code (WECOM_KF_CONTACT_URL: the account's 客服链接)."""
    base = os.environ.get("WECOM_KF_CONTACT_URL", "").strip()
    if not base:
        return ""
    return f"{base}{'&' if '?' in base else '?'}scene_param={REFERRAL_SCENE}{code}"


@dataclass(frozen=True)
class Progress:
    code: str
    invited: int
    next_reward: Optional[ReferralReward]

    @property
    def to_next(self) -> int:
        return self.next_reward.count - self.invited if self.next_reward else 0


async def progress(client: aioredis.Redis, catalog: Catalog, cid: str) -> Progress:
    invited = int(await client.zcard(key(cid, "invited")))
    return Progress(await code_of(client, cid), invited, catalog.referrals.next_reward(invited))


@dataclass(frozen=True)
class Referral:
    result: str  # counted | self | duplicate | capped | not_new | unknown_code
    count: int = 0
    reward: str = ""


async def arrived(client: aioredis.Redis, catalog: Catalog, invitee: str, code: str, now: datetime) -> Referral:
    inviter = await inviter_of(client, code)
    if not inviter:
        return Referral("unknown_code")
    if inviter == invitee:
        return Referral("self")
    created = await client.hget(key(invitee, "profile"), "created_at")
    settings = catalog.referrals
    if not created or (now - datetime.fromisoformat(created)).total_seconds() > settings.new_within_s:
        return Referral("not_new")
    args = [inviter, invitee, iso(now), int(now.timestamp()), settings.daily_cap, outbox.GRANT_PREFIX,
            outbox.due_at(now.timestamp()), notices.PREFIX]
    for reward in settings.rewards:
        args += [reward.count, reward.coupon, reward.name]
    result, count, reward = await scripts(client).refer(
        keys=[INVITEES, key(inviter, "invited"), key(inviter, f"invited_on:{day_number(now, catalog.timezone)}"),
              outbox.OUTBOX, notices.OUTBOX, key(invitee, "profile")],
        args=args)
    if str(result) in ("counted", "capped"):
        await tags.change(client, catalog, invitee, add=[REFERRAL_TAG], by="referral", reason=f"invited by {inviter}",
                          now=now)
    return Referral(str(result), int(count), str(reward))
