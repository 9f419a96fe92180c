"""The contact policy with an injected clock: what the persona may send, when and how."""
from __future__ import annotations

from datetime import datetime, time as dtime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.outbound import policy
from bot.outbound.policy import MARKETING, NOTICE, Facts, Settings, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(timezone="Asia/Shanghai", quiet_start=dtime(22, 0), quiet_end=dtime(8, 0), daily_cap=2)
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=SHANGHAI)


def facts(sender_id: str = "wechat_mp:o1", ago_h: float = 1.0, **extra) -> Facts:
    return Facts(sender_id=sender_id, last_in=(NOON - timedelta(hours=ago_h)).timestamp(),
                 open_kfid="kf1" if sender_id.startswith("wecom_kf") else "", **extra)


@pytest.mark.parametrize("sender_id", ["wechat_mp:o1", "wecom_kf:wm1"])
def test_inside_48_hours_both_channels_send_outside_nothing(sender_id):
    assert decide(facts(sender_id, ago_h=47.9), MARKETING, NOON, SETTINGS).action == "send"
    late = decide(facts(sender_id, ago_h=48.1), MARKETING, NOON, SETTINGS)
    assert (late.action, late.reason) == ("refuse", policy.OUTSIDE_WINDOW)


def test_a_customer_who_never_wrote_is_outside_the_window():
    never = Facts(sender_id="wechat_mp:o1", last_in=0)
    assert decide(never, NOTICE, NOON, SETTINGS).reason == policy.OUTSIDE_WINDOW


def test_the_official_account_uses_its_template_outside_the_window_when_one_is_configured():
    assert decide(facts(ago_h=60, has_template=True), NOTICE, NOON, SETTINGS).action == "template"
    # 微信客服 has no such thing
    assert decide(facts("wecom_kf:wm1", ago_h=60, has_template=True), NOTICE, NOON, SETTINGS).action == "refuse"


def test_wecom_kf_allows_five_messages_in_the_window():
    assert decide(facts("wecom_kf:wm1", kf_sent=4), NOTICE, NOON, SETTINGS).action == "send"
    fifth = decide(facts("wecom_kf:wm1", kf_sent=5), NOTICE, NOON, SETTINGS)
    assert (fifth.action, fifth.reason) == ("refuse", policy.KF_QUOTA)


def test_quiet_hours_postpone_to_eight_in_the_morning_local_time():
    late_evening = datetime(2026, 12, 2, 22, 30, tzinfo=SHANGHAI)
    decision = decide(facts(ago_h=1), MARKETING, late_evening, SETTINGS)
    assert decision.action == "postpone" and decision.reason == policy.QUIET_HOURS
    assert decision.until == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI)
    early = datetime(2026, 12, 3, 7, 59, tzinfo=SHANGHAI)
    assert decide(facts(ago_h=1), NOTICE, early, SETTINGS).until == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI)
    # the same instant in UTC is judged in the brand's time zone
    assert decide(facts(ago_h=1), MARKETING, late_evening.astimezone(timezone.utc), SETTINGS).action == "postpone"
    assert decide(facts(ago_h=1), MARKETING, datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI), SETTINGS).action == "send"


def test_the_daily_cap_stops_marketing_but_not_what_the_customer_is_owed():
    assert decide(facts(sent_today=1), MARKETING, NOON, SETTINGS).action == "send"
    capped = decide(facts(sent_today=2), MARKETING, NOON, SETTINGS)
    assert (capped.action, capped.reason) == ("refuse", policy.FREQUENCY_CAP)
    assert decide(facts(sent_today=2), NOTICE, NOON, SETTINGS).action == "send"


def test_opted_out_customers_hear_nothing_not_even_notices():
    for kind in (MARKETING, NOTICE):
        decision = decide(facts(opted_out=True), kind, NOON, SETTINGS)
        assert (decision.action, decision.reason) == ("refuse", policy.OPTED_OUT)


def test_nothing_is_sent_while_a_guide_holds_the_conversation():
    held = facts("wecom_kf:wm1", held_by_guide=True)
    assert decide(held, MARKETING, NOON, SETTINGS).reason == policy.HANDOFF
    assert decide(held, MARKETING, NOON, SETTINGS).action == "refuse"
    later = decide(held, NOTICE, NOON, SETTINGS)  # a notice waits for the guide to hand back
    assert later.action == "postpone" and later.until > NOON


def test_web_visitors_and_customers_without_a_wechat_identity_have_no_channel():
    assert decide(Facts(sender_id=""), MARKETING, NOON, SETTINGS).reason == policy.NO_CHANNEL
    assert decide(Facts(sender_id="web:s1", last_in=NOON.timestamp()), MARKETING, NOON, SETTINGS).reason == \
        policy.NO_CHANNEL


def test_the_most_recent_wechat_identity_is_the_one_reached():
    assert policy.best_identity((("wechat_mp:o1", 100.0), ("wecom_kf:wm1", 200.0), ("web:s", 900.0))) == \
        "wecom_kf:wm1"
    assert policy.best_identity((("web:s", 900.0),)) == ""


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("OUTBOUND_QUIET_HOURS", "21:30-09:00")
    monkeypatch.setenv("OUTBOUND_DAILY_CAP", "1")
    s = Settings.from_env()
    assert (s.quiet_start, s.quiet_end, s.daily_cap) == (dtime(21, 30), dtime(9, 0), 1)
    monkeypatch.setenv("OUTBOUND_QUIET_HOURS", "none")
    assert Settings.from_env().quiet_until(datetime(2026, 12, 2, 23, 0, tzinfo=SHANGHAI)) is None
