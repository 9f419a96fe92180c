"""The contact policy: may the persona message this customer now, how, or when?

One pure function over facts read from Redis, so every proactive send (pushes,
notices, reminders) goes through the same rules and tests drive it with any clock:

- 退订 / TD on any of the customer's identities: nothing, ever (until 订阅);
- a guide holds the conversation: notices wait, marketing is dropped;
- quiet hours (default 22:00–08:00 in the brand's time zone): postponed, never dropped;
- per-customer daily cap of marketing messages (notices a customer is owed are exempt);
- 公众号 客服消息 only within 48 h of the customer's last message, else a configured
  模板消息 (订阅通知) when the kind has one, else nothing;
- 微信客服 send_msg only within 48 h of the last message and at most 5 messages in it
  (the bot's replies count); a guide-held session is refused above.
The daily cap and the 5 messages are counted again inside the delivery's Lua step
(bot/outbound/deliveries.py), so two workers cannot both take the last one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from typing import Optional, Tuple
from zoneinfo import ZoneInfo

from common import sender

WINDOW_S = 48 * 3600
KF_WINDOW_MESSAGES = 5
HANDOFF_RETRY_S = 1800  # a notice for a customer with a guide is tried again this much later

# kinds: a notice the customer is owed (shipping, restock they asked for) or marketing
NOTICE = "notice"
MARKETING = "marketing"

# reasons (report keys)
OPTED_OUT = "opted_out"
HANDOFF = "handoff"
FREQUENCY_CAP = "frequency_cap"
OUTSIDE_WINDOW = "outside_window"
KF_QUOTA = "kf_quota"
NO_CHANNEL = "no_channel"
QUIET_HOURS = "quiet_hours"


@dataclass(frozen=True)
class Settings:
    timezone: str = "Asia/Shanghai"
    quiet_start: dtime = dtime(22, 0)
    quiet_end: dtime = dtime(8, 0)
    daily_cap: int = 2

    @classmethod
    def from_env(cls) -> "Settings":
        quiet = os.environ.get("OUTBOUND_QUIET_HOURS", "22:00-08:00").strip()
        start, end = (dtime(22, 0), dtime(8, 0))
        if quiet and quiet != "none":
            a, _, b = quiet.partition("-")
            start, end = dtime.fromisoformat(a.strip()), dtime.fromisoformat(b.strip())
        elif quiet == "none":
            start = end = dtime(0, 0)
        return cls(timezone=os.environ.get("BRAND_TIMEZONE", "Asia/Shanghai"), quiet_start=start, quiet_end=end,
                   daily_cap=int(os.environ.get("OUTBOUND_DAILY_CAP", "2")))

    def quiet_until(self, now: datetime) -> Optional[datetime]:
        """When the quiet hours `now` falls in end (None outside them)."""
        if self.quiet_start == self.quiet_end:
            return None
        local = now.astimezone(ZoneInfo(self.timezone))
        t = local.time()
        overnight = self.quiet_start > self.quiet_end
        inside = (t >= self.quiet_start or t < self.quiet_end) if overnight else (self.quiet_start <= t < self.quiet_end)
        if not inside:
            return None
        end = local.replace(hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end

    def local_day(self, now: datetime) -> int:
        return now.astimezone(ZoneInfo(self.timezone)).date().toordinal()


@dataclass(frozen=True)
class Facts:
    """What is known of one customer's best identity at `now` (epoch seconds in `last_in`)."""
    sender_id: str  # the identity to reach (most recent WeChat one), "" when none
    last_in: float = 0.0
    kf_sent: int = 0
    open_kfid: str = ""
    opted_out: bool = False
    held_by_guide: bool = False
    sent_today: int = 0
    has_template: bool = False  # the brand configured a 模板消息 for this kind


@dataclass(frozen=True)
class Decision:
    action: str  # "send" (客服消息 / send_msg) | "template" | "postpone" | "refuse"
    reason: str = ""
    until: Optional[datetime] = None

    @property
    def sends(self) -> bool:
        return self.action in ("send", "template")


def decide(facts: Facts, kind: str, now: datetime, settings: Settings) -> Decision:
    if facts.opted_out:
        return Decision("refuse", OPTED_OUT)
    if not facts.sender_id:
        return Decision("refuse", NO_CHANNEL)
    if facts.held_by_guide:
        if kind == NOTICE:
            return Decision("postpone", HANDOFF, now + timedelta(seconds=HANDOFF_RETRY_S))
        return Decision("refuse", HANDOFF)
    quiet = settings.quiet_until(now)
    if quiet is not None:
        return Decision("postpone", QUIET_HOURS, quiet)
    if kind == MARKETING and settings.daily_cap and facts.sent_today >= settings.daily_cap:
        return Decision("refuse", FREQUENCY_CAP)
    channel, _ = sender.split(facts.sender_id)
    in_window = facts.last_in > 0 and now.timestamp() - facts.last_in <= WINDOW_S
    if channel == sender.WECHAT_MP:
        if in_window:
            return Decision("send")
        return Decision("template") if facts.has_template else Decision("refuse", OUTSIDE_WINDOW)
    if channel == sender.WECOM_KF:
        if not in_window:
            return Decision("refuse", OUTSIDE_WINDOW)
        if facts.kf_sent >= KF_WINDOW_MESSAGES or not facts.open_kfid:
            return Decision("refuse", KF_QUOTA if facts.open_kfid else NO_CHANNEL)
        return Decision("send")
    return Decision("refuse", NO_CHANNEL)


def best_identity(contacts: Tuple[Tuple[str, float], ...]) -> str:
    """The customer's identity to reach: the WeChat one they wrote on most recently."""
    reachable = [(last_in, sid) for sid, last_in in contacts
                 if sender.split(sid)[0] in (sender.WECHAT_MP, sender.WECOM_KF)]
    return max(reachable)[1] if reachable else ""
