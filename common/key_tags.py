"""Redis Cluster hash tags: the one home of the tags both runtimes and the tools build keys with.

Redis Cluster hashes only the text between the first `{` and `}` of a key, and a
Lua script (or a MULTI) may only touch keys of one slot. So every key that some
atomic step touches together with another shares one tag (docs/redis-schema.md,
"Redis Cluster"). A standalone Redis ignores the braces: the same names serve both.
Keys used alone (trackers, locks, dedup, nonces, flood counters, caches) carry no tag
and spread over the cluster.
"""
from __future__ import annotations

# Customers and marketing: a check-in, a draw or a coupon moves a campaign's stock or a
# coupon pool, the claim-id sequence, the grant outbox and one customer's records in one
# step, so they share one slot (sized in docs/redis-schema.md).
MARKETING = "{brand}:"
# The unanswered-questions inbox: a message is counted in its group, listed and streamed in one step.
INBOX = "{faq:inbox}:"
# 微信客服 delivery: the sync lock, each message's state, the cursor and the skipped stream.
KF_SYNC = "{wx:kf}:"
