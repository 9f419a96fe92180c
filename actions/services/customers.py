"""One customer id per person: channel identities map to it, the profile hangs off it.

Identity comes only from what a channel authenticated: the namespace of the
sender id (`common.sender`), never the input channel name a caller reports, nor
slots or entities a user can type. `unionid`/`scene` in message metadata count
only for senders in a WeChat namespace (the channels put a unionid there after
fetching it from WeChat); anything else is a web identity.

Migration: identity keys stay `cust:ident:<channel>:<user id>`, so
`wechat_mp:<openid>` still maps to the customer created before sender ids were
namespaced, and a legacy un-namespaced REST sender `x` (`rest:x`) still maps to
`web:x`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional

import redis.asyncio as aioredis

from actions.services.clock import iso
from actions.services.store import PREFIX, scripts
from common import sender

WEB = "web"


@dataclass(frozen=True)
class Identity:
    channel: str  # wechat_mp | wecom_kf | wecom | web
    user_id: str  # openid / external_userid / WeCom userid / web session id
    unionid: str = ""
    scene: str = ""  # QR scene the person first came from

    @property
    def wechat(self) -> bool:
        """WeChat vouches for this person: prizes and welcome coupons are theirs to have."""
        return self.channel in sender.WECHAT_CHANNELS

    @property
    def keys(self) -> List[str]:
        # unionid first: it is the one id WeChat gives the same person on every app
        names = ([f"unionid:{self.unionid}"] if self.unionid else []) + [f"{self.channel}:{self.user_id}"]
        return names


def identity_from(sender_id: str, metadata: Optional[Dict] = None) -> Identity:
    namespace, user_id = sender.split(sender_id)
    if not sender.is_wechat(sender_id):
        return Identity(channel=WEB, user_id=user_id)  # web: and rest: senders; metadata ignored
    metadata = metadata or {}
    return Identity(
        channel=namespace,
        user_id=user_id,
        unionid=str(metadata.get("unionid") or ""),
        scene=str(metadata.get("scene") or ""),
    )


@dataclass(frozen=True)
class Customer:
    id: str
    created: bool  # first contact: no profile existed


async def resolve(client: aioredis.Redis, ident: Identity, now: datetime) -> Customer:
    names = ident.keys
    cid, created = await scripts(client).resolve_customer(
        keys=[f"{PREFIX}seq"] + [f"{PREFIX}ident:{n}" for n in names],
        args=[iso(now), ident.channel, ident.scene, PREFIX] + names,
    )
    return Customer(id=str(cid), created=bool(int(created)))


def key(cid: str, part: str) -> str:
    return f"{PREFIX}{cid}:{part}"


async def profile(client: aioredis.Redis, cid: str) -> Dict[str, str]:
    return await client.hgetall(key(cid, "profile"))


async def has_history(client: aioredis.Redis, cid: str) -> bool:
    """Anything that makes a person not new: tags other than their channel, a
    check-in, a draw, a coupon. Imported SCRM customers have tags, so they count."""
    tags = await client.smembers(key(cid, "tags"))
    if any(not t.startswith("channel:") for t in tags):
        return True
    pipe = client.pipeline(transaction=False)
    pipe.exists(key(cid, "coupons"))
    pipe.exists(key(cid, "claims"))
    pipe.hexists(key(cid, "profile"), "last_checkin_at")
    return any(await pipe.execute())
