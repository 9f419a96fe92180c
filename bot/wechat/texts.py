"""What the persona says on WeChat when Rasa is not asked (media, voice).

Written once with persona placeholders (bot.persona), rendered at send time.
"""
from __future__ import annotations

from bot.persona import load_facts, load_persona, render_text

IMAGE_ACK = "收到{you}发来的图片啦{emoji_happy}。{persona}暂时还看不了图片，可以用文字跟我说说想问什么吗？我马上帮你看～"
LOCATION_ACK = "收到{you}的位置：{label}。想找附近的门店或柜台，直接问我「最近的门店在哪」就好～"
LINK_ACK = "收到{you}分享的链接「{title}」。{persona}这边打不开链接，能说说想了解其中哪一点吗？"
VOICE_UNCLEAR = "{persona}没听清这条语音{emoji_sorry}，方便打字告诉我吗？"
MEDIA_ACK = "收到啦{emoji_happy}。{persona}目前只看得懂文字，麻烦用文字描述一下想问的问题～"


def persona_text(template: str, **values: str) -> str:
    rendered = render_text(template, load_persona(), load_facts())
    # Message details are filled after the persona, so user text cannot inject placeholders.
    for name, value in values.items():
        rendered = rendered.replace("{" + name + "}", value)
    return rendered
