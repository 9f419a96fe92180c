"""Scale-out (issue 11): two Rasa servers, each with its own action server,
behind a real nginx (Debian package) with round-robin, one Redis. A
conversation that alternates between the servers keeps its state and its
form; a WeChat callback retried onto the other server is answered once; a
微信客服 notification reaching both servers is synced and answered once.

Last (it kills server B): one Rasa server of two killed with -9 under load.
公众号 customers keep talking while B dies with turns in flight; WeChat retries
what got no answer, the retry lands on A, and A takes over the messages B had
claimed. No conversation loses a message, every message is answered, and a
check-in caught in the kill is counted once. A conversation whose turn was
running on B waits until B's ticket in Rasa's lock store expires, then A
answers it through 客服消息."""
from __future__ import annotations

import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Tuple

import redis
import requests

from bot.lock_store import DEFAULT_TICKET_LIFETIME_S
from bot.stand_in.simulator import Delivery, WeChatSimulator
from tests.channels.helpers import StandIn, wait_for
from tests.e2e.customers import customer_id, parcel_claim
from tests.e2e.test_prize_form import ASK_NAME, ASK_PHONE, ASK_PROVINCE
from tests.e2e.trackers import user_texts
from tests.e2e.two_servers import Balancer, balancer, second_server  # noqa: F401 (fixtures)
from common.key_tags import MARKETING as TAG

APOLOGY = "开了个小差"  # the channel's and the actions' apologies: never an answer


def say(url: str, token: str, sender: str, text: str) -> Tuple[str, str]:
    answer = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                           headers={"Authorization": f"Bearer {token}"}, timeout=60)
    answer.raise_for_status()
    return "\n".join(m.get("text", "") for m in answer.json()), answer.headers.get("X-Upstream", "")


def test_a_form_alternating_between_servers_keeps_its_state(stack, balancer):
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    sender = f"scale-{secrets.token_hex(3)}"
    served: List[str] = []

    def turn(text: str) -> str:
        reply, upstream = say(balancer.url, stack.rasa_token, sender, text)
        served.append(upstream)
        assert APOLOGY not in reply, reply
        return reply

    assert "七七" in turn("你好")
    claim_id = parcel_claim(client, customer_id(client, f"rest:{sender}"))
    assert ASK_NAME in turn("我的奖品")
    reply = turn("运费多少钱")
    assert "包邮" in reply and ASK_NAME in reply  # answered inside the form, then asked again
    assert ASK_PHONE in turn("王小明")
    assert ASK_PROVINCE in turn("138 1234 5678")
    assert "138****5678" in turn("浙江省杭州市西湖区文三路90号5楼")
    assert client.hget(f"{TAG}claim:{claim_id}", "status") == "address_filled"
    assert len(set(served)) == 2, served  # both servers answered turns of this one conversation


def test_a_retried_official_account_callback_is_answered_once(stack, wechat, balancer):
    sim = WeChatSimulator(f"{balancer.url}/webhooks/wechat_mp/webhook", wechat.mp_token, wechat.mp_aes_key,
                          wechat.mp_appid, "safe")
    openid = f"oScale{secrets.token_hex(4)}"
    params, body = sim.build(sim.text(openid, "积分会过期吗"))
    answers = [requests.post(sim.url, params=params, data=body, timeout=10, headers={"Content-Type": "text/xml"})
               for _ in range(2)]  # WeChat's retry, landing on the other server
    assert len({a.headers.get("X-Upstream") for a in answers}) == 2  # the retry reached the other server
    assert all(a.status_code == 200 for a in answers)
    assert user_texts(stack, f"wechat_mp:{openid}") == ["积分会过期吗"]  # processed once


def test_a_wecom_kf_notification_on_both_servers_is_synced_and_answered_once(stack, wechat, balancer):
    api = StandIn(wechat.api_base)
    open_kfid, user = f"wkScale{secrets.token_hex(3)}", f"wmScale{secrets.token_hex(3)}"
    api.enqueue_kf_text(open_kfid, user, "你是机器人吗")
    sim = WeChatSimulator(f"{balancer.url}/webhooks/wecom_kf/webhook", wechat.kf_token, wechat.kf_aes_key,
                          wechat.corp_id, "wecom")
    notifications = [sim.build(sim.kf_notify(open_kfid)) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # both at once
        results = list(pool.map(lambda n: requests.post(sim.url, params=n[0], data=n[1], timeout=10), notifications))
    assert len({r.headers.get("X-Upstream") for r in results}) == 2  # one notification on each server

    assert wait_for(lambda: api.kf_sent_to(user), timeout_s=30), "the 微信客服 customer got no answer"
    assert user_texts(stack, f"wecom_kf:{user}") == ["你是机器人吗"]
    time.sleep(3)  # a second sync would send its copy by now
    contents = [str(r.get("text") or r.get("msgmenu")) for r in api.kf_sent_to(user)]
    assert len(contents) == len(set(contents)), contents  # no answer sent twice


TURNS = ["你好", "签到", "积分会过期吗", "包邮吗"]
CUSTOMERS = 12
LOCK_LIFETIME_S = DEFAULT_TICKET_LIFETIME_S  # a dead server's tickets are not renewed: gone after this


def custom_sent(api: StandIn, openid: str) -> List[str]:
    return [b["text"]["content"] for b in api.sent("/cgi-bin/message/custom/send") if b.get("touser") == openid]


def served_by(access_log, port: int) -> int:
    return sum(1 for line in access_log.read_text().splitlines() if line.startswith(f"127.0.0.1:{port} 200"))


def deduplicated(texts: List[str]) -> List[str]:
    """A message B had processed just before dying is processed again by A (same
    message id, so no effect repeats): the tracker then holds it twice in a row."""
    return [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]


def test_one_rasa_server_killed_under_load_loses_no_conversation(stack, wechat, second_server, balancer: Balancer):
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    api = StandIn(wechat.api_base)
    base_id = int(time.time() * 1000)
    openids = [f"oFail{secrets.token_hex(4)}" for _ in range(CUSTOMERS)]

    def converse(index: int) -> List[Delivery]:
        # WeChat: 5 s per attempt, retried on no answer; here up to 4 attempts
        sim = WeChatSimulator(f"{balancer.url}/webhooks/wechat_mp/webhook", wechat.mp_token, wechat.mp_aes_key,
                              wechat.mp_appid, "safe", attempts=4)
        return [sim.deliver(sim.text(openids[index], text, msg_id=base_id + index * 10 + turn))
                for turn, text in enumerate(TURNS)]

    with ThreadPoolExecutor(max_workers=CUSTOMERS) as pool:
        running = [pool.submit(converse, i) for i in range(CUSTOMERS)]
        # kill B once it has answered some turns, with others in flight
        assert wait_for(lambda: served_by(balancer.access_log, second_server.rasa_port) >= CUSTOMERS // 2,
                        timeout_s=120), "server B never answered"
        os.killpg(second_server.services["rasa"].process.pid, signal.SIGKILL)
        deliveries: Dict[str, List[Delivery]] = {openids[i]: f.result() for i, f in enumerate(running)}

    retried = sum(1 for ds in deliveries.values() for d in ds if len(d.attempts) > 1)
    assert retried, "no turn was caught in the kill"
    for openid, ds in deliveries.items():
        assert all(d.acknowledged for d in ds), [d.attempts for d in ds]  # WeChat got an answer every time
        # no message lost; a conversation whose turn died with B waits for B's ticket in
        # Rasa's lock store to expire (TICKET_LOCK_LIFETIME) before A answers it
        texts = wait_for(lambda: (lambda t: t if t == TURNS else None)(
            deduplicated(user_texts(stack, f"wechat_mp:{openid}"))), timeout_s=LOCK_LIFETIME_S + 30)
        assert texts == TURNS, (openid, user_texts(stack, f"wechat_mp:{openid}"))
        passive = [d.reply["Content"] for d in ds if d.reply]
        missing = len(TURNS) - len(passive)  # answered through 客服消息 instead (late, or taken over)
        sent = wait_for(lambda: (lambda s: s if len(s) >= missing else None)(custom_sent(api, openid)),
                        timeout_s=60) if missing > 0 else []
        assert sent is not None, (openid, passive, custom_sent(api, openid))  # every message answered
        assert not [text for text in passive + sent if APOLOGY in text], passive + sent
        cid = customer_id(client, f"wechat_mp:{openid}")
        totals = [int(client.hget(key, "total") or 0) for key in client.scan_iter(f"{TAG}chk:*:{cid}")]
        assert totals == [1], (openid, totals)  # the check-in counted once, even if B died during it
