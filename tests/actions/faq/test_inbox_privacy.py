"""The unanswered-questions inbox keeps no raw phone number or address."""
from __future__ import annotations

import json

import pytest

from actions.faq import inbox
from actions.faq.inbox import InboxEntry
from actions.faq.settings import load_settings
from common import inbox_store

pytestmark = pytest.mark.asyncio


async def test_inbox_text_is_masked_everywhere_it_is_stored(redis):
    text = "快递寄到北京市朝阳区望京SOHO塔3-1502，电话138 0013 8000，为什么还没到"
    entry = InboxEntry(text=text, customer="c1", channel="wechat_mp", outcome="none")
    gid = await inbox.record(redis, entry, None, load_settings())

    stored = [json.dumps(await redis.hgetall(inbox_store.group_key(gid)), ensure_ascii=False)]
    stored += await redis.lrange(inbox_store.samples_key(gid), 0, -1)
    stored += [json.dumps(fields, ensure_ascii=False) for _, fields in await redis.xrange(inbox_store.STREAM)]
    for blob in stored:
        for raw in ("0013", "望京", "1502"):
            assert raw not in blob, blob
    group = await inbox_store.get_group(redis, gid)
    # what ops need to act on stays readable
    assert group["label"] == "快递寄到北京市朝阳区***，电话138****8000，为什么还没到"
