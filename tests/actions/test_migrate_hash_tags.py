"""scripts/migrate_hash_tags.py on a real redis-server: keys written before the
Redis Cluster hash tags move to their tagged names (TTL kept, never overwriting),
values that name a grant move with it, the inbox gains its labels hash, a second
run is a no-op; and a customer's check-in streak and parked reward carry on
under the new code after the upgrade."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import redis as redis_sync

from actions.services import checkin, coupons, customers
from actions.services.clock import day_number
from common.key_tags import INBOX, KF_SYNC, MARKETING
from marketing_support import ON_CLUSTER

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import migrate_hash_tags as migration  # noqa: E402

pytestmark = [pytest.mark.asyncio,
              pytest.mark.skipif(ON_CLUSTER, reason="the migration runs on the standalone Redis, before a cluster")]

GRANT = "grant:daily:c1:m3"  # a reward parked when its pool was empty
COUPON_FIELD = f"checkin_7#{GRANT}"


def seed_old_layout(client: redis_sync.Redis, yesterday: int) -> None:
    client.set("cust:seq", 1)
    client.set("cust:ident:wechat_mp:oOld", "c1")
    client.hset("cust:c1:profile", mapping={"created_at": "2025-08-01T10:00:00+08:00", "points": "60"})
    client.hset("chk:daily:c1", mapping={"last_day": yesterday, "streak": 6, "total": 6, "best": 6})
    client.hset(GRANT, mapping={"cid": "c1", "campaign": "daily", "coupon": "checkin_7", "status": "parked"})
    client.sadd("cpn:checkin_7:parked", GRANT)
    client.zadd("outbox:grants", {"grant:daily:c1:claim4": 1700000000})
    client.hset("cust:c1:coupons", COUPON_FIELD, json.dumps({"type": "checkin_7", "code": "QHC7000001", "grant": GRANT}))
    client.set("idem:c1:checkin:mid-1", "{}", ex=3600)
    client.set("lot:spring_wheel:stock", "old")
    client.set(MARKETING + "lot:spring_wheel:stock", "new")  # already there: never overwritten
    client.zadd("faq:inbox:open", {"7": 2})
    client.hset("faq:inbox:group:7", mapping={"label": "你们卖猫粮吗", "status": "open", "count": 2})
    client.set("wx:kf:cursor:wk1", "c5")
    client.hset("wx:kf:msg:m1", "state", "done")
    client.expire("wx:kf:msg:m1", 3600)
    client.set("rasa:tracker:wechat_mp:oOld", "{}")  # not moved: trackers are used alone
    client.set("wx:kf:unionid:wm1", "none")


def snapshot(client: redis_sync.Redis) -> dict:
    return {k: client.dump(k) for k in client.keys("*")}


async def test_old_keys_move_to_their_tags_and_the_customer_carries_on(redis, redis_server, catalog, fake_clock):
    today = fake_clock.set_local("2025-08-07T10:00:00")
    sync = redis_sync.Redis.from_url(redis_server.url, decode_responses=True)
    seed_old_layout(sync, day_number(today, catalog.timezone) - 1)

    before = snapshot(sync)
    dry = migration.migrate(sync, apply=False, say=lambda _: None)
    assert snapshot(sync) == before  # a dry run changes nothing
    assert dry.counts()["moved"] == 13 and dry.conflicts == ["lot:spring_wheel:stock"]
    assert dry.members == 3 and dry.labels == 1

    applied = migration.migrate(sync, apply=True, say=lambda _: None)
    assert applied.counts() == dry.counts()
    assert sync.get(MARKETING + "cust:ident:wechat_mp:oOld") == "c1" and not sync.exists("cust:ident:wechat_mp:oOld")
    assert 0 < sync.ttl(MARKETING + "idem:c1:checkin:mid-1") <= 3600 and 0 < sync.ttl(KF_SYNC + "msg:m1") <= 3600
    assert sync.get(KF_SYNC + "cursor:wk1") == "c5"
    assert sync.get("lot:spring_wheel:stock") == "old" and sync.get(MARKETING + "lot:spring_wheel:stock") == "new"
    assert sync.exists("rasa:tracker:wechat_mp:oOld", "wx:kf:unionid:wm1") == 2
    assert sync.zrange(MARKETING + "outbox:grants", 0, -1) == [MARKETING + "grant:daily:c1:claim4"]
    assert sync.hkeys(MARKETING + "cust:c1:coupons") == [f"checkin_7#{MARKETING}{GRANT}"]
    assert sync.hgetall(INBOX + "labels") == {"7": "你们卖猫粮吗"}

    again = migration.migrate(sync, apply=True, say=lambda _: None)
    assert again.counts()["moved"] == 0 and again.members == 0 and again.labels == 0

    # the new code finds the customer, their streak and their parked reward
    found = await customers.resolve(redis, customers.identity_from("wechat_mp:oOld"), today)
    assert (found.id, found.created) == ("c1", False)
    assert (await checkin.check_in(redis, catalog, "c1", today)).streak == 7
    assert await coupons.requeue_parked(redis, "checkin_7") == 1
    assert MARKETING + GRANT in await redis.zrange(coupons.OUTBOX, 0, -1)
    sync.close()
