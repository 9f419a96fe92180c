"""The whole product on a real Redis Cluster (issue 11): three local primaries made
by `redis-cli --cluster create`, the action server, Rasa and the console started
with REDIS_CLUSTER=1 and the address of one node. Every Lua step must touch one
slot (keys share a hash tag, common/key_tags.py), Rasa's tracker and lock stores
must follow MOVED, and the conversation state must spread over the nodes.

A customer checks in and asks what the bot cannot answer (the inbox, read
through the console's API); a 公众号 draw whose callback is retried is drawn and
answered once; a 微信客服 notification is synced and answered once."""
from __future__ import annotations

import secrets
import time
from typing import Iterator, List

import pytest
import redis
import requests

from bot.redis_server import RedisCluster, free_port
from bot.stack import Stack
from bot.stand_in.simulator import WeChatSimulator
from common.key_tags import KF_SYNC, MARKETING
from tests.channels.helpers import StandIn, wait_for
from tests.e2e.conftest import Chat, started
from tests.e2e.trackers import user_texts


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[RedisCluster]:
    running = RedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def on_cluster(cluster, model_path, wechat, tmp_path_factory) -> Iterator[Stack]:
    running = Stack(model=model_path, rasa_port=free_port(), actions_port=free_port(), console_port=free_port(),
                    rasa_token=secrets.token_hex(8), run_dir=tmp_path_factory.mktemp("stack_cluster"),
                    redis_url=cluster.url, extra_env={**wechat.env(), "REDIS_CLUSTER": "1", "SANIC_WORKERS": "1"})
    yield from started(running, redis_port=0)  # the cluster is its Redis


@pytest.fixture(scope="module")
def client(cluster) -> Iterator[redis.RedisCluster]:
    connection = redis.RedisCluster.from_url(cluster.url, decode_responses=True)
    yield connection
    connection.close()


def node_of(client: redis.RedisCluster, key: str) -> str:
    return client.get_node_from_key(key).name


def keys_like(client: redis.RedisCluster, pattern: str) -> List[str]:
    return list(client.scan_iter(match=pattern, count=1000))  # SCAN asks every primary (KEYS only one)


def test_a_customer_checks_in_draws_and_asks_on_a_redis_cluster(on_cluster, client):
    chat = Chat(on_cluster.rasa_url, f"cluster-{secrets.token_hex(3)}", on_cluster.rasa_token)
    assert "七七" in chat.texts("你好")
    assert "连续签到 1 天" in chat.texts("我要签到")  # checkin.lua: state, profile, claims, outbox in one slot
    assert "连续签到 1 天" in chat.texts("我要签到")  # asked again the same day: nothing new counted
    question = f"你们招不招兼职模特{secrets.token_hex(2)}"
    chat.send(question)

    cid = client.get(f"{MARKETING}cust:ident:web:{chat.sender.partition(':')[2]}")
    assert cid
    checkins = keys_like(client, f"{MARKETING}chk:*:{cid}")
    assert [client.hget(k, "total") for k in checkins] == ["1"]

    listing = requests.get(f"{on_cluster.console_url}/api/inbox/groups", params={"limit": 200}, timeout=10,
                           headers={"Authorization": f"Bearer {on_cluster.console_ops_token}"})
    assert listing.status_code == 200, listing.text
    assert any(question in [s["text"] for s in g["samples"]] for g in listing.json()["groups"])


def test_conversations_spread_over_the_nodes_and_keep_their_state(on_cluster, client):
    senders = [f"cluster-spread-{i}-{secrets.token_hex(2)}" for i in range(8)]
    for sender in senders:
        Chat(on_cluster.rasa_url, sender, on_cluster.rasa_token).send("你好")
    trackers = [f"rasa:tracker:rest:{s}" for s in senders]
    assert all(client.exists(k) for k in trackers)
    assert len({node_of(client, k) for k in trackers}) >= 2  # not all on one node: trackers carry no tag
    for sender in senders:
        assert user_texts(on_cluster, f"rest:{sender}") == ["你好"]


def test_a_retried_official_account_draw_is_answered_and_drawn_once_on_a_cluster(on_cluster, wechat, client):
    sim = WeChatSimulator(f"{on_cluster.rasa_url}/webhooks/wechat_mp/webhook", wechat.mp_token, wechat.mp_aes_key,
                          wechat.mp_appid, "safe")
    openid = f"oCluster{secrets.token_hex(4)}"
    params, body = sim.build(sim.text(openid, "抽奖"))
    answers = [requests.post(sim.url, params=params, data=body, timeout=10, headers={"Content-Type": "text/xml"})
               for _ in range(2)]  # WeChat's retry
    assert all(a.status_code == 200 for a in answers)
    assert user_texts(on_cluster, f"wechat_mp:{openid}") == ["抽奖"]
    cid = client.get(f"{MARKETING}cust:ident:wechat_mp:{openid}")
    draws = keys_like(client, f"{MARKETING}lot:*:user:{cid}")  # draw.lua: stock, claim id, winners, outbox
    assert cid and [client.hget(k, "total") for k in draws] == ["1"]


def test_a_wecom_kf_message_is_synced_and_answered_once_on_a_cluster(on_cluster, wechat, client):
    api = StandIn(wechat.api_base)
    open_kfid, user = f"wkCluster{secrets.token_hex(3)}", f"wmCluster{secrets.token_hex(3)}"
    api.enqueue_kf_text(open_kfid, user, "你是机器人吗")
    sim = WeChatSimulator(f"{on_cluster.rasa_url}/webhooks/wecom_kf/webhook", wechat.kf_token, wechat.kf_aes_key,
                          wechat.corp_id, "wecom")
    for _ in range(2):  # WeChat may notify twice
        params, body = sim.build(sim.kf_notify(open_kfid))
        assert requests.post(sim.url, params=params, data=body, timeout=10).status_code == 200

    assert wait_for(lambda: api.kf_sent_to(user), timeout_s=30), "the 微信客服 customer got no answer"
    assert wait_for(lambda: client.get(f"{KF_SYNC}cursor:{open_kfid}"), timeout_s=10)  # the page settled
    assert user_texts(on_cluster, f"wecom_kf:{user}") == ["你是机器人吗"]
    time.sleep(2)  # a second sync would have sent its copy by now
    contents = [str(r.get("text") or r.get("msgmenu")) for r in api.kf_sent_to(user)]
    assert len(contents) == len(set(contents)), contents
