"""A prize form through the real stack leaves no raw phone number or address in
the stored Rasa tracker, while the claim record holds them for fulfilment."""
from __future__ import annotations

import json

import redis

from tests.e2e.customers import customer_id
from common.key_tags import MARKETING as TAG

NAME, PHONE, TYPED_PHONE = "王小明", "13800138000", "138 0013 8000"
ADDRESS = "浙江省杭州市西湖区文三路100号"
# typed fragments with their spaces: a bare "0013" also occurs in float timestamps
RAW_FRAGMENTS = [PHONE, TYPED_PHONE, "0013 8000", "文三路", "100号", NAME]



def _trackers_of(client: redis.Redis, sender: str) -> list:
    keys = [k for k in client.scan_iter(match="rasa:tracker:*") if k.endswith(sender)]
    # Rasa writes \\uXXXX escapes: scan the decoded JSON or Chinese never matches
    return [json.dumps(json.loads(client.get(k)), ensure_ascii=False) for k in keys]


def test_prize_form_keeps_raw_values_only_in_the_claim(chat, stack):
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    assert "七七" in chat.texts("你好")
    cid = customer_id(client, chat.sender)
    claim_id = str(client.incr(TAG + "claim:seq"))
    client.hset(f"{TAG}claim:{claim_id}", mapping={
        "id": claim_id, "customer": cid, "campaign": "spring_wheel", "prize": "mask_sample", "kind": "physical",
        "status": "awaiting_address", "won_at": "2026-12-01T00:00:00Z",
    })
    client.rpush(f"{TAG}cust:{cid}:claims", claim_id)

    # the form asks name, phone, address (wording belongs to the form; not the apology)
    for typed, asked in (("我的奖品", "姓名"), (NAME, "手机"), (TYPED_PHONE, "省")):
        reply = chat.texts(typed)
        assert asked in reply and "暂时" not in reply, reply
    saved = chat.texts(ADDRESS)
    assert "138****8000" in saved and "浙江省杭州市西湖区***" in saved, saved  # the confirmation, masked

    claim = client.hgetall(f"{TAG}claim:{claim_id}")
    assert claim["status"] == "address_filled"
    assert claim["recipient_phone"] == PHONE and claim["recipient_name"] == NAME
    assert claim["address_detail"].endswith("文三路100号")

    trackers = _trackers_of(client, chat.sender)
    assert trackers, "no tracker in Redis: is endpoints.yml's tracker store importable?"
    for stored in trackers:
        assert "我的奖品" in stored  # the conversation is kept ...
        for fragment in RAW_FRAGMENTS:  # ... without the personal data
            assert fragment not in stored, fragment
        assert client.ttl(next(k for k in client.scan_iter(match="rasa:tracker:*") if k.endswith(chat.sender))) > 0
