"""Rasa's Redis lock store with atomic ticket operations.

Rasa's RedisLockStore issues a ticket by GET, modify, SET, and every waiting
message rewrites the lock the same way while it polls. With two Sanic workers
or two Rasa servers (issue 11), a customer's two quick messages land on
different processes: one process can overwrite the ticket the other just
issued. The lost ticket's message then fails with a LockError (the persona's
apology), or runs beside the other turn and one turn's tracker overwrites the
other's. Here each of those steps is one Lua script on the lock's single key
(so it also works on Redis Cluster), keeping Rasa's stored format and its
ticket-lock algorithm unchanged.

Tickets are also renewed while their message waits and runs. Rasa's tickets
live a fixed 60 s: a longer turn loses its lock, and a server killed mid-turn
blocks that conversation for a minute. Renewed tickets can live 10 s
(TICKET_LOCK_LIFETIME): only a dead server's tickets run out.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.core.lock import TicketLock
from rasa.utils.endpoints import EndpointConfig

from bot.redis_conn import cluster_twin
from common.env import env_float
from common.privacy import mask_id

logger = logging.getLogger(__name__)

# Tickets are stored as Rasa stores them: {"conversation_id": …, "tickets": ["{\"number\": n, \"expires\": t}", …]}.
# Existing ticket strings are kept as they are; expired ones are dropped on the way.
_LIVE_TICKETS = """
local function live_tickets(raw, now)
  local kept = {}
  if not raw then return kept end
  for _, encoded in ipairs(cjson.decode(raw).tickets or {}) do
    local ticket = cjson.decode(encoded)
    if tonumber(ticket.expires) >= now then table.insert(kept, {encoded, tonumber(ticket.number)}) end
  end
  return kept
end
local function save(key, conversation_id, kept)
  if #kept == 0 then redis.call('DEL', key) return end
  local encoded = {}
  for i, t in ipairs(kept) do encoded[i] = t[1] end
  redis.call('SET', key, cjson.encode({conversation_id = conversation_id, tickets = encoded}))
end
"""

# KEYS[1] lock key. ARGV: conversation id, now (epoch s), lifetime (s). Returns the new ticket's number.
_ISSUE = _LIVE_TICKETS + """
local now = tonumber(ARGV[2])
local kept = live_tickets(redis.call('GET', KEYS[1]), now)
local number = 0
if #kept > 0 then number = kept[#kept][2] + 1 end
table.insert(kept, {string.format('{"number": %d, "expires": %.6f}', number, now + tonumber(ARGV[3])), number})
save(KEYS[1], ARGV[1], kept)
return number
"""

# KEYS[1] lock key. ARGV: conversation id, now, ticket number to drop (-1: none).
_PRUNE = _LIVE_TICKETS + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local kept = {}
for _, t in ipairs(live_tickets(raw, tonumber(ARGV[2]))) do
  if t[2] ~= tonumber(ARGV[3]) then table.insert(kept, t) end
end
save(KEYS[1], ARGV[1], kept)
return #kept
"""

# KEYS[1] lock key. ARGV: conversation id, now, ticket number, lifetime (s). 1 if the ticket
# was still there and now expires a lifetime from now, 0 if it had expired already.
_RENEW = _LIVE_TICKETS + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local now, number, found = tonumber(ARGV[2]), tonumber(ARGV[3]), 0
local kept = live_tickets(raw, now)
for _, t in ipairs(kept) do
  if t[2] == number then
    t[1] = string.format('{"number": %d, "expires": %.6f}', number, now + tonumber(ARGV[4]))
    found = 1
  end
end
save(KEYS[1], ARGV[1], kept)
return found
"""

NO_TICKET = -1
DEFAULT_TICKET_LIFETIME_S = 10.0  # Rasa's is 60 s, for tickets nobody renews


def ticket_lifetime_s() -> float:
    """TICKET_LOCK_LIFETIME (Rasa's variable), read when a message arrives."""
    return max(1.0, env_float("TICKET_LOCK_LIFETIME", DEFAULT_TICKET_LIFETIME_S))


class AtomicRedisLockStore(RedisLockStore):
    """`lock_store: type: bot.lock_store.AtomicRedisLockStore` with the same keys as `type: redis`."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
        self.red = cluster_twin(self.red)  # REDIS_CLUSTER=1: a cluster client, same options
        self._issue = self.red.register_script(_ISSUE)
        self._prune = self.red.register_script(_PRUNE)
        self._renew = self.red.register_script(_RENEW)

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=[self._key(conversation_id)],
                                   args=[conversation_id, repr(time.time()), repr(float(lock_lifetime))]))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (a waiting message's poll)."""
        self._prune(keys=[self._key(conversation_id)], args=[conversation_id, repr(time.time()), NO_TICKET])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Drop this ticket (and expired ones); the lock goes when no ticket is left."""
        self._prune(keys=[self._key(conversation_id)], args=[conversation_id, repr(time.time()), ticket_number])

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: Optional[float] = None,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[TicketLock]:
        """Rasa's lock, with the ticket renewed every third of its lifetime while the
        message waits and while it is processed. A turn may then run longer than the
        lifetime, and the lifetime only bounds how long the tickets of a killed
        server block its conversations."""
        lifetime = lock_lifetime or ticket_lifetime_s()
        ticket = self.issue_ticket(conversation_id, lifetime)
        renewal = asyncio.create_task(self._keep_alive(conversation_id, ticket, lifetime))
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            renewal.cancel()
            self.cleanup(conversation_id, ticket)

    async def _keep_alive(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        while True:
            await asyncio.sleep(lifetime / 3)
            try:
                if not self._renew(keys=[self._key(conversation_id)],
                                   args=[conversation_id, repr(time.time()), ticket, repr(float(lifetime))]):
                    logger.warning("The lock ticket of %s expired before it could be renewed.",
                                   mask_id(conversation_id))
                    return
            except Exception as error:  # a Redis hiccup: the next beat tries again
                logger.warning("Could not renew the lock ticket of %s (%s).", mask_id(conversation_id),
                               type(error).__name__)
