"""Notices the persona owes a customer (a prize shipped…), handed to the outbound worker.

A notice is written in the same Lua step as the change it reports (e.g. a claim marked
shipped, actions/services/lua/ship_claim.lua), so the change and the promise to tell
the customer cannot come apart:
`{brand}:notice:<id>` (hash: cid, kind, values JSON, created_at, status) and its id in
`{brand}:outbox:notices` (zset id → when the worker may try it). The worker
(bot/outbound/worker.py) sends it through the contact policy and removes it when it
is finished (sent, refused or undeliverable: the outcome stays on the notice).
"""
from __future__ import annotations

from common import key_tags

PREFIX = key_tags.MARKETING + "notice:"
OUTBOX = key_tags.MARKETING + "outbox:notices"
PRIZE_SHIPPED = "prize_shipped"
KINDS = (PRIZE_SHIPPED, "referral_joined", "referral_rewarded", "restock")  # persona text `outbound_<kind>`


def key(notice_id: str) -> str:
    return PREFIX + notice_id
