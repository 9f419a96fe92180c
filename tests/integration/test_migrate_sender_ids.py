"""scripts/migrate_sender_ids.py against a real redis-server and Rasa's own
Redis tracker store: old bare-id trackers move to the namespaced id the
identity map names, nothing is overwritten, a second run is a no-op."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest
import redis as redis_sync

from bot.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import migrate_sender_ids as migration  # noqa: E402
from common.key_tags import MARKETING as TAG

TTL = 2_592_000


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RedisServer]:
    running = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start(appendonly=False)
    yield running
    running.stop()


@pytest.fixture
def client(server) -> Iterator[redis_sync.Redis]:
    connection = redis_sync.Redis.from_url(server.url, decode_responses=True)
    connection.flushdb()
    yield connection
    connection.close()


def seed(client: redis_sync.Redis) -> None:
    """What a pre-issue-9 Redis holds: identity map plus bare-id trackers."""
    for kind, user_id, cid in (
        ("wechat_mp", "oMp0penid000001", "c1"), ("wecom_kf", "wmKfExternal0002", "c2"),
        ("wecom", "guide_amy", "c3"), ("wechat_mp", "oConflict000004", "c4"),
        ("wechat_mp", "both_places", "c5"), ("wecom", "both_places", "c6"), ("web", "web-3f2a", "c7"),
    ):
        client.set(f"{TAG}cust:ident:{kind}:{user_id}", cid)
    for user_id in ("oMp0penid000001", "wmKfExternal0002", "guide_amy", "oConflict000004",
                    "both_places", "web-3f2a", "e2e-some-test"):
        client.set(f"rasa:tracker:{user_id}", f'{{"events": [], "name": "{user_id}"}}', ex=TTL)
    client.set("rasa:tracker:wechat_mp:oConflict000004", '{"events": ["newer"]}', ex=TTL)
    client.set("rasa:tracker:wechat_mp:oAlreadyNew0005", '{"events": []}', ex=TTL)
    client.set("rasa:lock:oMp0penid000001", "lock")


def snapshot(client: redis_sync.Redis) -> Dict[str, str]:
    return {key: client.get(key) for key in client.keys("*")}


def test_dry_run_changes_nothing_and_says_what_would_move(client):
    seed(client)
    before = snapshot(client)
    lines = []
    report = migration.migrate(client, apply=False, say=lines.append, show=str)
    assert snapshot(client) == before
    assert sorted(report.would_rename) == ["guide_amy", "oMp0penid000001", "wmKfExternal0002"]
    assert report.conflicts == ["oConflict000004"] and report.ambiguous == ["both_places"]
    assert "would move rasa:tracker:oMp0penid000001 -> rasa:tracker:wechat_mp:oMp0penid000001" in lines


def test_apply_moves_each_tracker_to_its_channel_namespace_and_overwrites_nothing(client):
    seed(client)
    old_values = {u: client.get(f"rasa:tracker:{u}") for u in ("oMp0penid000001", "wmKfExternal0002", "guide_amy")}
    report = migration.migrate(client, apply=True, say=lambda _: None)
    assert sorted(report.renamed) == sorted(old_values)
    for user_id, target in (("oMp0penid000001", "wechat_mp"), ("wmKfExternal0002", "wecom_kf"), ("guide_amy", "wecom")):
        assert not client.exists(f"rasa:tracker:{user_id}")
        assert client.get(f"rasa:tracker:{target}:{user_id}") == old_values[user_id]
        assert 0 < client.ttl(f"rasa:tracker:{target}:{user_id}") <= TTL  # the 30-day TTL goes along
    # the newer namespaced tracker wins; the old one stays until it expires
    assert client.get("rasa:tracker:wechat_mp:oConflict000004") == '{"events": ["newer"]}'
    assert client.exists("rasa:tracker:oConflict000004")
    # left alone: ambiguous, old web sessions, REST/test ids, already namespaced, locks
    for key in ("rasa:tracker:both_places", "rasa:tracker:web-3f2a", "rasa:tracker:e2e-some-test",
                "rasa:tracker:wechat_mp:oAlreadyNew0005", "rasa:lock:oMp0penid000001"):
        assert client.exists(key), key
    assert not client.exists("rasa:tracker:web:web-3f2a")
    # identity map and customer ids untouched
    assert client.get(TAG + "cust:ident:wechat_mp:oMp0penid000001") == "c1"
    assert (report.legacy_web, report.unknown) == (1, 1)


def test_a_second_run_moves_nothing(client):
    seed(client)
    migration.migrate(client, apply=True, say=lambda _: None)
    after_first = snapshot(client)
    again = migration.migrate(client, apply=True, say=lambda _: None)
    assert again.renamed == [] and snapshot(client) == after_first


def test_rasa_reads_the_moved_conversation_under_the_namespaced_id(client, server):
    from rasa.core.tracker_store import RedisTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    client.set(TAG + "cust:ident:wechat_mp:oRasaTracker0006", "c9")
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    domain = Domain.from_yaml("version: '3.1'\nslots:\n  streak:\n    type: any\n    mappings: [{type: custom}]\n")
    store = RedisTrackerStore(domain, host="127.0.0.1", port=port, db=0, key_prefix="rasa", record_exp=TTL)

    async def scenario():
        old = DialogueStateTracker.from_events("oRasaTracker0006", [UserUttered("我要签到"), SlotSet("streak", 3)])
        await store.save(old)
        assert client.exists("rasa:tracker:oRasaTracker0006")
        migration.migrate(client, apply=True, say=lambda _: None)
        assert await store.retrieve("oRasaTracker0006") is None
        return await store.retrieve("wechat_mp:oRasaTracker0006")

    moved = asyncio.run(scenario())
    assert moved is not None and moved.sender_id == "wechat_mp:oRasaTracker0006"
    assert moved.get_slot("streak") == 3 and moved.latest_message.text == "我要签到"


def test_the_command_is_a_dry_run_unless_told_to_apply(client, server):
    seed(client)
    command = [sys.executable, str(ROOT / "scripts" / "migrate_sender_ids.py"), "--redis-url", server.url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dry = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert dry.returncode == 0 and "would_rename 3" in dry.stdout and "oMp0penid000001" not in dry.stdout  # masked
    assert client.exists("rasa:tracker:oMp0penid000001")
    applied = subprocess.run(command + ["--apply"], capture_output=True, text=True, env=env, timeout=60)
    assert applied.returncode == 0 and "renamed 3" in applied.stdout
    assert client.exists("rasa:tracker:wechat_mp:oMp0penid000001")
