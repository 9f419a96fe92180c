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
"""
from __future__ import annotations

import time

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

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

NO_TICKET = -1


class AtomicRedisLockStore(RedisLockStore):
    """`lock_store: type: bot.lock_store.AtomicRedisLockStore` with the same keys as `type: redis`."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
        self._issue = self.red.register_script(_ISSUE)
        self._prune = self.red.register_script(_PRUNE)

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
