from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.simplified_chinese import SimplifiedChinese, to_simplified


def test_traditional_messages_read_as_simplified():
    assert to_simplified("優惠券用不了") == "优惠券用不了"
    assert to_simplified("發順豐可以嗎") == "发顺丰可以吗"
    assert to_simplified("我要签到") == "我要签到"


def test_the_component_rewrites_the_message_text():
    message = Message(data={"text": "謝謝妳"})
    SimplifiedChinese().process([message])
    assert message.get("text") == "谢谢你"
