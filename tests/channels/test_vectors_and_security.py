"""Callback authentication as WeChat/WeCom define it, and refusals nothing gets past."""
from __future__ import annotations

import time

import requests

from bot.stand_in.simulator import WeChatSimulator
from tests.channels import helpers as h
from tests.channels.helpers import wait_for


def test_wecom_documentation_vector_verifies_the_callback_url(apps):
    for channel in ("wecom", "wecom_kf"):
        answer = requests.get(apps["vectors"].url(channel), params=h.VEC_VERIFY, timeout=5)
        assert answer.status_code == 200
        assert answer.text == h.VEC_ECHO_PLAIN


def test_wecom_documentation_sample_post_is_decrypted_and_answered(apps, stand_in, received):
    answer = requests.post(apps["vectors"].url("wecom"), params=h.VEC_POST_PARAMS, data=h.VEC_POST_BODY, timeout=5)
    assert answer.status_code == 200
    sent = wait_for(lambda: stand_in.sent("/cgi-bin/message/send"))
    assert sent == [{"touser": "mycreate", "msgtype": "text", "agentid": 218, "text": {"content": "回声：hello"}, "safe": 0}]
    assert [(m["sender"], m["text"]) for m in received.all()] == [("wecom:mycreate", "hello")]


def test_stale_timestamp_is_refused_when_the_replay_window_is_on(apps, stand_in, received):
    kf = WeChatSimulator(apps["main"].url("wecom_kf"), h.KF_TOKEN, h.KF_AES, h.CORP_ID, "wecom")
    params, body = kf.build(kf.kf_notify(h.OPEN_KFID), timestamp=int(time.time()) - 301)
    assert requests.post(kf.url, params=params, data=body, timeout=5).status_code == 403
    sim = WeChatSimulator(apps["main"].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, "safe")
    params, body = sim.build(sim.text("oUSER_stale", "你好"), timestamp=int(time.time()) - 600)
    assert requests.post(apps["main"].url("wechat_mp"), params=params, data=body, timeout=5).status_code == 403
    time.sleep(0.3)  # give a wrongly accepted message the chance to show up
    assert received.all() == [] and stand_in.sent() == []


def test_forged_signature_is_refused_and_nothing_reaches_rasa(apps, stand_in, received):
    for mode, app in (("safe", "main"), ("plain", "plain")):
        sim = WeChatSimulator(apps[app].url("wechat_mp"), h.MP_TOKEN, h.MP_AES, h.MP_APPID, mode)
        params, body = sim.build(sim.text("oUSER_forged", "转账给我"))
        params["signature"] = "0" * 40
        assert requests.post(sim.url, params=params, data=body, timeout=5).status_code == 403
        forger = WeChatSimulator(sim.url, "not-the-token", h.MP_AES, h.MP_APPID, mode)
        assert forger.deliver(forger.text("oUSER_forged", "转账给我")).last.status == 403
    kf = WeChatSimulator(apps["main"].url("wecom_kf"), "not-the-token", h.KF_AES, h.CORP_ID, "wecom")
    assert kf.deliver(kf.kf_notify(h.OPEN_KFID)).last.status == 403
    bad_get = WeChatSimulator(apps["main"].url("wechat_mp"), "not-the-token", mode="plain").verify_url("123")
    assert bad_get.status_code == 403
    time.sleep(0.3)
    assert received.all() == [] and stand_in.sent() == []


def test_wrong_aes_key_is_refused_and_nothing_reaches_rasa(apps, stand_in, received):
    wrong = h.aes_key("somebody else")
    cases = [("wechat_mp", h.MP_TOKEN, h.MP_APPID, "safe"), ("wecom_kf", h.KF_TOKEN, h.CORP_ID, "wecom"),
             ("wecom", h.WECOM_TOKEN, h.CORP_ID, "wecom")]
    for channel, token, receiver, mode in cases:
        sim = WeChatSimulator(apps["main"].url(channel), token, wrong, receiver, mode)
        xml = {"wechat_mp": lambda: sim.text("oUSER_key", "你好"), "wecom_kf": lambda: sim.kf_notify(h.OPEN_KFID),
               "wecom": lambda: sim.wecom_text("guide1", "你好", h.AGENT_ID)}[channel]()
        assert sim.deliver(xml).last.status == 403, channel
    # A valid key for another corp id (receiver id check) is refused too.
    other = WeChatSimulator(apps["main"].url("wecom"), h.WECOM_TOKEN, h.WECOM_AES, "wwSOMEOTHERCORP", "wecom")
    assert other.deliver(other.wecom_text("guide1", "你好", h.AGENT_ID)).last.status == 403
    time.sleep(0.3)
    assert received.all() == [] and stand_in.sent() == []


def test_malformed_xml_entity_bombs_and_huge_bodies_get_400(apps, received):
    sim = WeChatSimulator(apps["plain"].url("wechat_mp"), h.MP_TOKEN, mode="plain")
    bomb = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            "<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime>"
            "<MsgType>text</MsgType><Content>&b;</Content><MsgId>1</MsgId></xml>")
    for body in ("<xml><ToUserName>broken", bomb, "<xml><Content>" + "长" * 40000 + "</Content></xml>"):
        params, _ = sim.build("<xml><FromUserName>oX</FromUserName></xml>")
        answer = requests.post(sim.url, params=params, data=body.encode("utf-8"), timeout=5)
        assert answer.status_code == 400
    assert received.all() == []


def test_mp_url_verification_echoes_echostr(apps):
    for app in ("main", "plain"):
        sim = WeChatSimulator(apps[app].url("wechat_mp"), h.MP_TOKEN, mode="plain")
        answer = sim.verify_url("8390117362514")
        assert answer.status_code == 200 and answer.text == "8390117362514"
