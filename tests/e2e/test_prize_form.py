"""The parcel address form through the real stack: started from "我的奖品" for a
claim waiting for its address, interrupted by an FAQ question (answered, then
the same question asked again), finished, and saved once in the claim."""
from __future__ import annotations

import redis

from tests.e2e.customers import customer_id, parcel_claim
from common.key_tags import MARKETING as TAG

ASK_NAME = "收件人怎么称呼"
ASK_PHONE = "手机号是多少"
ASK_PROVINCE = "寄到哪个省份"
APOLOGY = "系统开了个小差"  # utter_service_unavailable: must never pass as an answer


def test_an_faq_question_inside_the_address_form_is_answered_and_the_form_resumes(chat, stack):
    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    assert "七七" in chat.texts("你好")
    claim_id = parcel_claim(client, customer_id(client, chat.sender))

    reply = chat.texts("我的奖品")
    assert "舒缓修护面膜体验装" in reply and ASK_NAME in reply

    reply = chat.texts("运费多少钱")
    assert "包邮" in reply and "99" in reply  # the shipping-fee answer with the brand's facts
    assert ASK_NAME in reply and reply.index("包邮") < reply.index(ASK_NAME)  # answered, then asked again
    assert APOLOGY not in reply

    assert ASK_PHONE in chat.texts("王小明")
    reply = chat.texts("0571-88888888")
    assert "座机" in reply and ASK_PROVINCE not in reply
    assert ASK_PROVINCE in chat.texts("138 1234 5678")

    reply = chat.texts("浙江省杭州市西湖区文三路90号5楼")
    assert "王**" in reply and "138****5678" in reply and APOLOGY not in reply  # the confirmation, masked
    assert "13812345678" not in reply and "王小明" not in reply
    claim = client.hgetall(f"{TAG}claim:{claim_id}")
    assert claim["status"] == "address_filled"
    assert (claim["recipient_name"], claim["recipient_phone"]) == ("王小明", "13812345678")
    assert (claim["address_province"], claim["address_city"]) == ("浙江省", "杭州市")
    assert claim["address_detail"] == "西湖区文三路90号5楼"

    # the form is over: the next question is just answered
    reply = chat.texts("运费多少钱")
    assert "包邮" in reply and ASK_NAME not in reply
