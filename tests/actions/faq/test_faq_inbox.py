"""Unanswered messages land in the inbox, grouped by similarity; ops list the
groups and mark one handled."""
from __future__ import annotations

import numpy as np
import pytest

from actions.faq import inbox
from common import inbox_store
from actions.faq.inbox import InboxEntry
from actions.faq.settings import load_settings

pytestmark = pytest.mark.asyncio


async def _record(client, matcher, text, settings=None, customer="c1"):
    entry = InboxEntry(text=text, customer=customer, channel="wechat_mp", outcome="none",
                       guesses=[{"key": "shipping_fee", "score": 0.3, "source": "semantic"}])
    return await inbox.record(client, entry, matcher.embed(text), settings or load_settings())


async def test_similar_questions_share_a_group_with_a_count(redis, faq_matcher):
    first = await _record(redis, faq_matcher, "你们卖不卖猫粮", customer="c1")
    second = await _record(redis, faq_matcher, "你们卖猫粮吗", customer="c2")
    other = await _record(redis, faq_matcher, "能不能开个发票给我公司", customer="c3")
    assert first == second != other

    listing = await inbox_store.list_groups(redis)
    assert listing["total"] == 2
    top = listing["groups"][0]
    assert top["id"] == first and top["count"] == 2 and top["label"] == "你们卖不卖猫粮"
    assert [s["text"] for s in top["samples"]] == ["你们卖猫粮吗", "你们卖不卖猫粮"]
    assert {s["customer"] for s in top["samples"]} == {"c1", "c2"}

    recent = await inbox_store.recent_messages(redis, 10)
    assert [m["text"] for m in recent][0] == "能不能开个发票给我公司"
    assert recent[0]["guesses"][0]["key"] == "shipping_fee" and recent[0]["customer"] == "c3"


async def test_out_of_scope_wording_groups_by_its_characters_but_a_shared_ending_does_not(redis, faq_matcher):
    # the in-domain embeddings know nothing of 招聘; the same question in other words still groups
    first = await _record(redis, faq_matcher, "你们公司招不招兼职", customer="c1")
    second = await _record(redis, faq_matcher, "你们公司招兼职吗", customer="c2")
    third = await _record(redis, faq_matcher, "鳄鱼咬人了怎么办", customer="c3")
    fourth = await _record(redis, faq_matcher, "猫粮过期了怎么办", customer="c4")
    assert first == second
    assert len({first, third, fourth}) == 3


async def test_a_handled_group_closes_and_new_asks_start_a_new_group(redis, faq_matcher):
    gid = await _record(redis, faq_matcher, "你们卖不卖猫粮")
    assert await inbox_store.mark_handled(redis, gid, by="ops-amy", note="加了FAQ")
    assert not await inbox_store.mark_handled(redis, "999")

    assert (await inbox_store.list_groups(redis))["total"] == 0
    handled = await inbox_store.list_groups(redis, status="handled")
    assert handled["groups"][0]["handled_by"] == "ops-amy"

    again = await _record(redis, faq_matcher, "你们卖不卖猫粮")
    assert again != gid


async def test_the_stream_is_capped(redis, faq_matcher):
    settings = load_settings({"FAQ_INBOX_MAX_LEN": "5"})
    for i in range(300):
        entry = InboxEntry(text=f"问题{i}", customer="c", channel="web", outcome="none")
        await inbox.record(redis, entry, None, settings)
    assert await redis.xlen(inbox_store.STREAM) < 300


async def test_too_many_open_groups_drop_the_smallest(redis, faq_matcher):
    settings = load_settings({"FAQ_MAX_OPEN_GROUPS": "2"})
    for text in ("你们卖不卖猫粮", "你们卖不卖猫粮", "能开公司发票吗", "附近有没有加油站"):
        await _record(redis, faq_matcher, text, settings)
    labels = [g["label"] for g in (await inbox_store.list_groups(redis))["groups"]]
    assert labels[0] == "你们卖不卖猫粮" and len(labels) == 2


async def test_a_question_finds_its_group_among_hundreds_and_vectors_of_another_model_are_skipped(
        redis, faq_matcher):
    """A full inbox is matched in one pass (all vectors, all open labels): the right group
    still wins, and vectors an older embedding model wrote (another width) are ignored."""
    rng = np.random.default_rng(7)
    width = faq_matcher.embed("你好").shape[0]
    for n in range(400):
        gid = str(await redis.incr(inbox_store.GROUP_SEQ))
        vector = rng.normal(size=width if n % 10 else width // 2).astype(np.float32)
        await redis.hset(inbox_store.group_key(gid), mapping={"label": f"无关的问题第{n}号", "status": "open",
                                                             "count": 1})
        await redis.zadd(inbox_store.OPEN, {gid: 1})
        await redis.hset(inbox_store.VECTORS, gid, inbox.encode_vector(vector / np.linalg.norm(vector)))
    by_meaning = await _record(redis, faq_matcher, "你们卖不卖猫粮")
    # the vector path alone finds it among the 400 (the lexical one would group the next ask too)
    assert await inbox._closest_group(redis, faq_matcher.embed("你们卖不卖猫粮"), 0.8) == by_meaning
    assert await _record(redis, faq_matcher, "你们卖猫粮吗") == by_meaning
    by_characters = await _record(redis, faq_matcher, "你们公司招不招兼职")
    assert await _record(redis, faq_matcher, "你们公司招兼职吗") == by_characters
    assert len({by_meaning, by_characters}) == 2 and int(by_meaning) > 400 and int(by_characters) > 400
