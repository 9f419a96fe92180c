"""An HTTP POST held back by its last byte, so "sent" and "recorded as sent" cannot come apart.

WeChat's send APIs have no idempotency key, so a worker killed between the API call and
its own record either loses the message (record first) or repeats it (call first). Here
the request is written up to its final byte, then the delivery is claimed in Redis, then
the last byte goes out. A server never acts on an incomplete request, so:
- killed before the claim: the connection closes, WeChat discards the half request, the
  delivery is unclaimed and a restarted worker sends it;
- killed after the claim: the request was complete (or completes from the socket buffer),
  so the delivery found `sending` after a restart was delivered and is not sent again.
The one gap left is WeChat failing on its side after a complete request (an answer never
read): counted `in_doubt`, never repeated.

Plain asyncio streams (aiohttp cannot stop a body one byte short). HTTP/1.1 with
keep-alive per host, answers with Content-Length or chunked bodies, JSON only.
"""
from __future__ import annotations

import asyncio
import json
import ssl
from collections import defaultdict
from typing import Any, Deque, Dict, Tuple
from urllib.parse import urlencode, urlsplit

Connection = Tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HeldPostError(RuntimeError):
    """The request could not be written (nothing reached the server: safe to try again)."""


class Connections:
    """Idle keep-alive connections per (scheme, host, port)."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        self._idle: Dict[Tuple[str, str, int], Deque[Connection]] = defaultdict(Deque)

    async def open(self, scheme: str, host: str, port: int) -> Connection:
        idle = self._idle[(scheme, host, port)]
        while idle:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
        context = ssl.create_default_context() if scheme == "https" else None
        return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), self.timeout_s)

    def give_back(self, scheme: str, host: str, port: int, connection: Connection) -> None:
        if len(self._idle[(scheme, host, port)]) < 8:
            self._idle[(scheme, host, port)].append(connection)
        else:
            connection[1].close()

    def close(self) -> None:
        for idle in self._idle.values():
            for _, writer in idle:
                writer.close()
        self._idle.clear()


class HeldPost:
    def __init__(self, connections: Connections, key: Tuple[str, str, int], connection: Connection,
                 last: bytes) -> None:
        self._connections, self._key, self._connection, self._last = connections, key, connection, last

    @classmethod
    async def start(cls, connections: Connections, url: str, params: Dict[str, str], body: Dict[str, Any]) -> "HeldPost":
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        port = parts.port or (443 if scheme == "https" else 80)
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        target = parts.path + ("?" + urlencode(params) if params else "")
        head = (f"POST {target} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n").encode("ascii")
        key = (scheme, parts.hostname or "", port)
        try:
            connection = await connections.open(*key)
            connection[1].write(head + payload[:-1])
            await asyncio.wait_for(connection[1].drain(), connections.timeout_s)
        except (OSError, asyncio.TimeoutError) as error:
            raise HeldPostError(f"{type(error).__name__}: {error}") from error
        return cls(connections, key, connection, payload[-1:])

    def abort(self) -> None:
        """The delivery was not ours to send: the half request is dropped by the server."""
        self._connection[1].close()

    async def commit(self) -> Dict[str, Any]:
        """Send the last byte and read the JSON answer (errcode -1 for a non-JSON one)."""
        reader, writer = self._connection
        writer.write(self._last)
        await writer.drain()
        status, headers, data = await asyncio.wait_for(_read_response(reader), self._connections.timeout_s)
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._connections.give_back(*self._key, self._connection)
        try:
            answer = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"errcode": -1, "errmsg": f"HTTP {status}: non-JSON answer"}
        return answer if isinstance(answer, dict) else {"errcode": -1, "errmsg": f"HTTP {status}: not an object"}


async def _read_response(reader: asyncio.StreamReader) -> Tuple[int, Dict[str, str], bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before an answer")
    status = int(status_line.split()[1])
    headers: Dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        return status, headers, b"".join(chunks)
    length = headers.get("content-length")
    if length is not None:
        return status, headers, await reader.readexactly(int(length))
    headers["connection"] = "close"  # the body ends with the connection
    return status, headers, await reader.read()

