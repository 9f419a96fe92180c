"""One conversation's messages arriving at two Rasa processes at once (two Sanic
workers, or two servers behind nginx) are processed one at a time, each exactly
once, without a LockError: the lock store's ticket steps are atomic. Real Redis;
two lock stores with their own connections stand for the two processes."""
from __future__ import annotations

import asyncio
import threading
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from bot import lock_polling
from bot.lock_store import DEFAULT_TICKET_LIFETIME_S, AtomicRedisLockStore, ticket_lifetime_s
from bot.redis_server import RedisServer, free_port

MESSAGES_PER_PROCESS = 15


@pytest.fixture
def redis_port(tmp_path) -> Iterator[int]:
    server = RedisServer(free_port(), tmp_path).start(appendonly=False)
    lock_polling.install()  # as bot.serve does: waiting messages poll every 50 ms
    yield server.port
    server.stop()


def store(port: int) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", port=port, db=0, key_prefix="rasa"))


def two_processes(port: int, per_process: int, turn_s: float, lifetime: Optional[float] = None
                  ) -> Tuple[Dict[str, int], List[str]]:
    """`per_process` messages of one conversation at once on each of two lock stores
    (their own connections and event loops, as two servers); each turn sleeps turn_s."""
    state: Dict[str, int] = {"inside": 0, "most_inside": 0, "done": 0}
    errors: List[str] = []
    guard = threading.Lock()

    async def message(lock_store: AtomicRedisLockStore) -> None:
        try:
            async with lock_store.lock("wechat_mp:o-double-tap", lifetime):
                with guard:
                    state["inside"] += 1
                    state["most_inside"] = max(state["most_inside"], state["inside"])
                await asyncio.sleep(turn_s)  # a turn: other messages poll and issue tickets meanwhile
                with guard:
                    state["inside"] -= 1
                    state["done"] += 1
        except LockError as error:
            errors.append(str(error))

    def process() -> None:
        lock_store = store(port)

        async def burst() -> None:
            await asyncio.gather(*(message(lock_store) for _ in range(per_process)))

        asyncio.run(burst())

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return state, errors


def test_messages_of_one_conversation_on_two_processes_run_one_at_a_time(redis_port):
    state, errors = two_processes(redis_port, MESSAGES_PER_PROCESS, 0.01)
    assert errors == []  # no message failed (the customer would get the apology)
    assert state["done"] == 2 * MESSAGES_PER_PROCESS
    assert state["most_inside"] == 1  # never two turns of one conversation at once
    assert store(redis_port).get_lock("wechat_mp:o-double-tap") is None  # the lock is gone when all are done


def test_turns_longer_than_the_ticket_lifetime_keep_their_lock_and_the_queue_waits(redis_port):
    """Tickets are renewed while a message waits and while it is processed: with Rasa's
    store the first turn's ticket expires mid-turn (the next turn runs beside it) and the
    waiting messages' tickets expire in the queue (LockError: the customer's apology)."""
    state, errors = two_processes(redis_port, 2, turn_s=1.0, lifetime=0.6)
    assert errors == []
    assert state["done"] == 4 and state["most_inside"] == 1


def test_the_ticket_lifetime_comes_from_the_environment_when_a_message_arrives(monkeypatch):
    monkeypatch.delenv("TICKET_LOCK_LIFETIME", raising=False)
    assert ticket_lifetime_s() == DEFAULT_TICKET_LIFETIME_S
    monkeypatch.setenv("TICKET_LOCK_LIFETIME", "30")
    assert ticket_lifetime_s() == 30.0


def test_the_lock_keeps_rasas_format(redis_port):
    lock_store = store(redis_port)
    first = lock_store.issue_ticket("web:s1", 60)
    second = lock_store.issue_ticket("web:s1", 60)
    lock = lock_store.get_lock("web:s1")  # Rasa's own reader
    assert (first, second) == (0, 1)
    assert lock.conversation_id == "web:s1" and lock.now_serving == 0 and lock.last_issued == 1
    lock_store.cleanup("web:s1", first)
    assert lock_store.get_lock("web:s1").now_serving == 1
    lock_store.cleanup("web:s1", second)
    assert lock_store.get_lock("web:s1") is None


def test_an_expired_ticket_does_not_block_the_conversation(redis_port):
    lock_store = store(redis_port)
    lock_store.issue_ticket("wechat_mp:o-dead", 0.05)  # the turn of a server that was killed
    waiting = lock_store.issue_ticket("wechat_mp:o-dead", 60)
    assert lock_store.get_lock("wechat_mp:o-dead").is_locked(waiting)
    asyncio.run(asyncio.sleep(0.1))
    lock_store.update_lock("wechat_mp:o-dead")
    assert not lock_store.get_lock("wechat_mp:o-dead").is_locked(waiting)
