"""Lua scripts run by their SHA on whichever Redis client calls them.

EVAL sends the whole script with every call; these run on every callback,
message and lease renewal, so each is sent once per Redis server
(SCRIPT LOAD on the first NOSCRIPT, e.g. after a restart) and then run by
EVALSHA. Unlike redis-py's register_script, one object serves every client
(each channel and test has its own).
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

from redis.exceptions import NoScriptError


class LuaScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    async def __call__(self, redis: Any, keys: Sequence[Any], args: Sequence[Any] = ()) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await redis.script_load(self.source)
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
