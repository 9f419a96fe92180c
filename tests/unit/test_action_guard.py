"""bot/action_guard.py against a real (slow) HTTP action server and a real Redis:
a time-out is not abandoned, its result is told next turn; form validation is
not wrapped."""
from __future__ import annotations

import asyncio
import socket
from typing import Any, Dict

import pytest
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import action_guard
from bot.persona import system_text
from bot.redis_conn import close_all, get_redis
from bot.redis_server import free_port

DOMAIN = Domain.from_dict({
    "slots": {"prize_pending": {"type": "bool", "mappings": [{"type": "custom"}]}},
    "responses": {
        "utter_action_slow": [{"text": "SLOW: the result comes later"}],
        "utter_service_unavailable": [{"text": "APOLOGY: cannot do it now"}],
        "utter_won": [{"text": "WON: a parcel"}],
    },
})
SLOW_S = 1.0


class ActionServer:
    """A real HTTP action server: every action answers after SLOW_S."""

    def __init__(self) -> None:
        self.calls: Dict[str, int] = {}
        self.port = free_port()

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = body["next_action"]
        self.calls[name] = self.calls.get(name, 0) + 1
        await asyncio.sleep(SLOW_S)
        if name.startswith("validate_"):
            return web.json_response({"events": [{"event": "slot", "name": "prize_pending", "value": True}],
                                      "responses": []})
        return web.json_response({"events": [{"event": "slot", "name": "prize_pending", "value": True}],
                                  "responses": [{"response": "utter_won"}]})

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/webhook", self.webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        return runner


def run_guarded(redis_url: str, monkeypatch, action_name: str, sender: str) -> Dict[str, Any]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ACTION_TIMEOUT_S", "0.2")
    action_guard.install()

    async def scenario() -> Dict[str, Any]:
        server = ActionServer()
        runner = await server.start()
        try:
            await get_redis().delete(action_guard.late_key(sender))
            action = RemoteAction(action_name, EndpointConfig(f"http://127.0.0.1:{server.port}/webhook"))
            tracker = DialogueStateTracker(sender, DOMAIN.slots)
            nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
            events = await action.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)
            before = await get_redis().lrange(action_guard.late_key(sender), 0, -1)
            for _ in range(100):  # the shielded call finishes in the background
                if await get_redis().exists(action_guard.late_key(sender)) or not action_guard._background:
                    break
                await asyncio.sleep(0.05)
            await asyncio.gather(*action_guard._background)
            next_turn = CollectingOutputChannel()
            told = await action_guard.deliver_late_results(next_turn, sender)
            again = CollectingOutputChannel()
            told_again = await action_guard.deliver_late_results(again, sender)
            return {"events": events, "late_before": before, "told": told, "next_turn": next_turn.messages,
                    "told_again": told_again, "calls": server.calls}
        finally:
            await runner.cleanup()
            await close_all()

    return asyncio.run(scenario())


def test_a_timed_out_action_finishes_and_is_told_next_turn(redis_url, monkeypatch):
    result = run_guarded(redis_url, monkeypatch, "action_lottery", "wechat_mp:o-late")
    texts = [e.text for e in result["events"] if isinstance(e, BotUttered)]
    assert texts == ["SLOW: the result comes later"]  # not a win, not a failure claim
    assert not any(isinstance(e, SlotSet) for e in result["events"])
    assert result["late_before"] == []  # nothing to tell before the call finished
    assert result["calls"] == {"action_lottery": 1}  # finished, not retried
    assert result["told"] and len(result["next_turn"]) == 1
    told = result["next_turn"][0]["text"]
    assert told.startswith(system_text("late_result_intro"))
    assert "WON: a parcel" in told and "我的奖品" in told  # the form slot never arrived: say how to fill it
    assert not result["told_again"]  # told once


def test_form_validation_is_not_wrapped(redis_url, monkeypatch):
    result = run_guarded(redis_url, monkeypatch, "validate_prize_address_form", "wechat_mp:o-form")
    assert result["events"] == [SlotSet("prize_pending", True)]  # the real answer, after SLOW_S
    assert not result["told"]


def test_a_dead_action_server_still_gets_the_apology(monkeypatch):
    monkeypatch.setenv("ACTION_TIMEOUT_S", "2")
    action_guard.install()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    action = RemoteAction("action_checkin", EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
    events = asyncio.run(action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses),
                                    DialogueStateTracker("wechat_mp:o-dead", DOMAIN.slots), DOMAIN))
    assert [e.text for e in events] == ["APOLOGY: cannot do it now"]
