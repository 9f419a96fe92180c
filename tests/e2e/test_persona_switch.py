"""PERSONA changes who speaks, with the same model and no retraining."""
from __future__ import annotations

import pytest

from bot.redis_server import free_port
from bot.stack import Stack


@pytest.fixture(scope="module")
def xiaowanzi_rasa(stack):
    # A second Rasa server with another persona, sharing Redis and the action server.
    other = Stack(
        model=stack.model, rasa_port=free_port(), actions_port=stack.actions_port,
        console_port=stack.console_port, rasa_token=stack.rasa_token,
        run_dir=stack.run_dir / "xiaowanzi", redis_url=stack.redis_url, persona="xiaowanzi",
    )
    other.start_service(other.rasa_service(), timeout_s=240)
    yield other
    other.stop()


def test_same_model_other_persona_other_voice(stack, xiaowanzi_rasa, make_chat):
    qiqi = make_chat(stack.rasa_url, "persona-a").texts("你好")
    wanzi = make_chat(xiaowanzi_rasa.rasa_url, "persona-b").texts("你好")
    assert "七七" in qiqi and "小完子" not in qiqi
    assert "小完子" in wanzi and "七七" not in wanzi


def test_persona_voice_reaches_shared_answers(xiaowanzi_rasa, make_chat):
    reply = make_chat(xiaowanzi_rasa.rasa_url, "persona-c").texts("你是机器人吗")
    assert "小完子" in reply and "宝子" in reply
