"""scripts/migrate_sender_ids.py against real Redis and Rasa's own RedisTrackerStore."""
from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Iterator

import pytest
import redis as redis_sync
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("migrate_sender_ids", ROOT / "scripts" / "migrate_sender_ids.py")
migration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(migration)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RedisServer]:
    running = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    try:
        yield running
    finally:
        running.stop()


def store(server: RedisServer) -> RedisTrackerStore:
    return RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=server.port, key_prefix="rasa", record_exp=3600)


def save(tracker_store: RedisTrackerStore, sender_id: str, channel: str, text: str) -> None:
    tracker = DialogueStateTracker.from_events(sender_id, [
        ActionExecuted("action_listen"), UserUttered(text, input_channel=channel), BotUttered("好的")])
    asyncio.run(tracker_store.save(tracker))


def test_wechat_trackers_move_to_their_namespace_and_others_stay(server):
    client = redis_sync.Redis.from_url(server.url, decode_responses=True)
    client.flushdb()
    trackers = store(server)
    save(trackers, "oOPENID_1", "wechat_mp", "我的券呢")
    save(trackers, "wmEXTERNAL_1", "wecom_kf", "发货了吗")
    save(trackers, "guide_li", "wecom", "今天活动")
    save(trackers, "shell-abc", "rest", "你好")
    save(trackers, "oCOLLIDE", "wechat_mp", "旧的")
    save(trackers, "wechat_mp:oCOLLIDE", "wechat_mp", "新的")

    dry = migration.migrate(client, apply=False)
    assert dry["would move to wechat_mp:"] == 2 and client.exists("rasa:tracker:oOPENID_1")

    outcome = migration.migrate(client, apply=True)
    assert outcome["moved to wechat_mp:"] == 1 and outcome["moved to wecom_kf:"] == 1
    assert outcome["moved to wecom:"] == 1 and outcome["kept (new id already has a tracker)"] == 1
    for old, new, text in (("oOPENID_1", "wechat_mp:oOPENID_1", "我的券呢"),
                           ("wmEXTERNAL_1", "wecom_kf:wmEXTERNAL_1", "发货了吗"), ("guide_li", "wecom:guide_li", "今天活动")):
        assert not client.exists(f"rasa:tracker:{old}")
        moved = asyncio.run(trackers.retrieve(new))
        assert moved.sender_id == new and moved.latest_message.text == text
        assert 0 < client.ttl(f"rasa:tracker:{new}") <= 3600
    assert asyncio.run(trackers.retrieve("shell-abc")).latest_message.text == "你好"
    assert asyncio.run(trackers.retrieve("wechat_mp:oCOLLIDE")).latest_message.text == "新的"
    assert client.exists("rasa:tracker:oCOLLIDE")  # never overwrites; reported for a person to decide
    assert migration.migrate(client, apply=True)["moved to wechat_mp:"] == 0  # idempotent
