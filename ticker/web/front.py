"""The public front: hot GETs answered on the connection through public interfaces alone.

A widget is fetched on every article page, so its answer should cost little more than reading
the request, and that must not hang on any library's internals. Every listening socket of a
ticker process has the front before aiohttp's documented low-level server (``runner.server()``
is its protocol factory), with the fast path on or off:

- A connection starts on the front. Each complete request head is read here: a plain HTTP/1.1
  ``GET`` without a body, for a raw path a kept variant was already answered for, is answered
  with that variant's pre-serialized bytes (``HotAnswers.find``, the same pick and count as
  every other level).
- The first request that is anything else (another method or path, a body, HTTP/1.0,
  ``Connection: close``, an upgrade, a header the front does not read plainly) is handed to
  aiohttp with every byte after it, and the connection stays with aiohttp for good: aiohttp's
  protocol for it is made then. Answers therefore leave in request order, and aiohttp's parser
  judges everything the front does not answer, so a malformed request gets aiohttp's answer
  (with the fast path on, the JSON error shape of ``fastpath.SafeRequestHandler``).
- While a connection is on the front, the front guards it: a request head must be complete
  ``HEAD_TIMEOUT_S`` after it began (for the first request: after the connection opened), an
  idle connection is closed after the keep-alive timeout, and at ``cap`` open connections (on
  the front or handed over) each new one makes room by closing the slowest one still on the
  front (never completed a head, oldest first; else the longest idle). A client that does not
  read its answers stops being read.

Only ``asyncio``'s public ``Protocol``/``Transport`` interface and aiohttp's documented
``AppRunner.server`` are used, so an aiohttp upgrade cannot change what this module relies on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Callable
from time import time as _time
from typing import Any, cast

from aiohttp import web

from ticker.web import keys
from ticker.web.answer import Answer, DateBlock, HotAnswers

logger = logging.getLogger(__name__)

HEAD_LIMIT = 8190  # a longer head, complete or not, is aiohttp's to judge (its line limit)
# The guards of slow and idle clients, here and in the fast path's guard of connections
# handed over to aiohttp.
HEAD_TIMEOUT_S = 10.0  # a request head must be complete this long after it began
KEEPALIVE_IDLE_S = 30.0  # an idle kept-alive connection is closed after this long
SWEEP_EVERY_S = 1.0
JOINED_MAX = 256  # answers whose joined bytes are kept for the current second

# A control character other than a tab, or a CR or LF that is not part of a CRLF: aiohttp's
# parser refuses or reads such a head differently, so the front leaves it to aiohttp.
_UNPLAIN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Headers that make a GET something the front does not answer: a body, an upgrade, an
# expectation, a close. (``Connection: keep-alive`` is read as HTTP/1.1's default.)
_HAND_OVER = frozenset((b"content-length", b"transfer-encoding", b"upgrade", b"expect"))


class FrontAnswers:
    """The answer bytes for one complete request head, or None to hand it to aiohttp.

    An answer's whole bytes (head, Date, body) are joined once per second and answer, not once
    per request: the Date line changes once a second, and joining a 10 KB body on every hit was
    a fifth of the front's time.
    """

    __slots__ = ("_date", "_find", "_joined", "_second", "answered")

    def __init__(self, hot: HotAnswers) -> None:
        self._find = hot.find
        self._date = DateBlock()
        self._second = -1
        # id(answer) -> (answer, its bytes this second); the answer is kept so its id stays its own.
        self._joined: dict[int, tuple[Answer, bytes]] = {}
        self.answered = 0  # answers written by the front (for tests and benchmarks)

    def _bytes(self, answer: Answer) -> bytes:
        second = int(_time())
        joined = self._joined
        if second != self._second:
            self._second = second
            joined.clear()
        else:
            kept = joined.get(id(answer))
            if kept is not None and kept[0] is answer:
                return kept[1]
        whole = answer.head + self._date() + answer.body
        if len(joined) < JOINED_MAX:
            joined[id(answer)] = (answer, whole)
        return whole

    def __call__(self, head: bytes) -> bytes | None:
        """``head``: the request line and header lines, without the blank line that ends them."""
        if _UNPLAIN.search(head) is not None:
            return None
        line, _, fields = head.partition(b"\r\n")
        if not line.startswith(b"GET /") or not line.endswith(b" HTTP/1.1"):
            return None
        target = line[4:-9]
        if b" " in target or not target.isascii():
            return None
        if_none_match: str | None = None
        accept_encoding: str | None = None
        if fields:
            for field in fields.split(b"\r\n"):
                name, colon, value = field.partition(b":")
                if not colon or _TOKEN.fullmatch(name) is None:
                    return None
                name = name.lower()
                if name in _HAND_OVER:
                    return None
                if name == b"connection":
                    if value.strip().lower() != b"keep-alive":
                        return None
                elif name == b"if-none-match":
                    if if_none_match is None:
                        if_none_match = value.strip(b" \t").decode("latin-1")
                elif name == b"accept-encoding" and accept_encoding is None:
                    accept_encoding = value.strip(b" \t").decode("latin-1")
        answer = self._find(target.decode("ascii"), if_none_match, accept_encoding)
        if answer is None:
            return None
        self.answered += 1
        return self._bytes(answer)


class FrontProtocol(asyncio.Protocol):
    """One client connection: on the front until its first request aiohttp must answer.

    aiohttp's protocol for the connection is made only then, so aiohttp's keep-alive timer,
    shutdown and connection count see a connection from the request it hands over on.
    """

    __slots__ = (
        "_buffer",
        "_front",
        "_inner",
        "_paused",
        "_transport",
        "active_at",
        "head_since",
        "on_front",
    )

    def __init__(self, front: Front) -> None:
        self._front = front
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._paused = False  # reading paused by the front while the client does not read
        self.on_front = True
        self.head_since: float | None = None  # when the head now awaited began, while incomplete
        self.active_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.head_since = self.active_at = self._front.now()
        self._front.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.lost(self)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()
        elif self._transport is not None and not self._paused:
            self._paused = True
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
        elif self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
            if self._buffer:
                self.data_received(b"")  # the requests that waited for the client to read

    def eof_received(self) -> bool | None:
        return None if self._inner is None else self._inner.eof_received()

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
            return
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        if self._paused:
            self._buffer = data
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        answer = self._front.answer
        pos = 0
        while True:
            end = data.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            try:
                out = answer(data[pos:end]) if end - pos <= HEAD_LIMIT else None
            except Exception:  # a bug here must cost one answer's speed, not the connection
                logger.exception("the front could not answer a request; aiohttp answers it")
                out = None
            if out is None:
                self.hand_over(data[pos:] if pos else data)
                return
            transport.write(out)
            pos = end + 4
            if self._paused:  # the client is not reading: the rest waits until it does
                self._buffer = data[pos:]
                self.active_at = self._front.now()
                return
        now = self._front.now()
        self.active_at = now
        if pos == len(data):
            self.head_since = None
            return
        rest = data[pos:] if pos else data
        if len(rest) > HEAD_LIMIT or b"\n\n" in rest:
            self.hand_over(rest)  # too long, or bare line feeds: aiohttp's parser decides
            return
        self._buffer = rest
        if pos or self.head_since is None:
            self.head_since = now

    def hand_over(self, data: bytes) -> None:
        """From now on aiohttp reads this connection, starting with ``data``."""
        assert self._transport is not None
        self.on_front = False
        self.head_since = None
        self._front.handed_over(self)
        inner = self._inner = self._front.make_inner()
        inner.connection_made(self._transport)
        inner.data_received(data)

    def close(self, *, abort: bool) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if abort:
                transport.abort()
            else:
                transport.close()


class Front:
    """The protocol factory for a listening socket, and the guard of connections on the front."""

    def __init__(
        self,
        server: Callable[[], asyncio.Protocol],
        hot: HotAnswers,
        *,
        cap: int,
        keepalive_s: float = KEEPALIVE_IDLE_S,
        on_close: Callable[[str], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._server = server
        self.answer = FrontAnswers(hot)
        self.cap = cap
        self.keepalive_s = keepalive_s
        self.now = clock or asyncio.get_running_loop().time
        self.connections: set[FrontProtocol] = set()  # open and still on the front
        self.open = 0  # open connections, on the front or handed over
        self.closed_by: dict[str, int] = {"head_timeout": 0, "idle": 0, "shed": 0}
        self.shedding = False
        self._on_close = on_close or (lambda reason: None)
        self._sweeper: asyncio.TimerHandle | None = None

    def __call__(self) -> FrontProtocol:
        return FrontProtocol(self)

    def make_inner(self) -> asyncio.Protocol:
        """aiohttp's protocol for a connection handed over."""
        return self._server()

    def opened(self, conn: FrontProtocol) -> None:
        self.connections.add(conn)
        self.open += 1
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(SWEEP_EVERY_S, self.sweep)
        if self.open <= self.cap:
            return
        if not self.shedding:
            self.shedding = True
            logger.warning("connection limit %d reached: closing the slowest connections", self.cap)
        victim = min((c for c in self.connections if c is not conn), key=_slowest_first, default=None)
        if victim is not None:
            self._close(victim, "shed")

    def handed_over(self, conn: FrontProtocol) -> None:
        self.connections.discard(conn)  # aiohttp's to look after from now on

    def lost(self, conn: FrontProtocol) -> None:
        self.connections.discard(conn)
        self.open -= 1

    def sweep(self) -> None:
        """Close heads that took too long and connections idle past the keep-alive timeout."""
        now = self.now()
        for conn in list(self.connections):
            if conn.head_since is not None and now - conn.head_since > HEAD_TIMEOUT_S:
                self._close(conn, "head_timeout")
            elif now - conn.active_at > self.keepalive_s:
                self._close(conn, "idle")
        if self.shedding and self.open < self.cap * 0.9:
            self.shedding = False
            logger.info("connections back under the limit (%d open, limit %d)", self.open, self.cap)
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_EVERY_S, self.sweep)

    def _close(self, conn: FrontProtocol, reason: str) -> None:
        self.connections.discard(conn)
        conn.close(abort=reason != "idle")  # an idle connection has nothing in flight
        self.closed_by[reason] += 1
        if reason != "idle":
            self._on_close(reason)

    def stop(self) -> None:
        """Stop the sweep and close every connection still on the front: none has a request
        in flight (the front answers as it reads), so nothing is cut short."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self.connections):
            conn.close(abort=False)


def _slowest_first(conn: FrontProtocol) -> tuple[bool, float]:
    """Connections that never completed a head, oldest first; then the longest idle."""
    return (conn.head_since is None, conn.active_at)


class FrontSite:
    """Listens for ``runner``'s app with the front before it; ``stop`` before ``runner.cleanup``.

    Connections the front closes are counted in the app's metrics by reason, as the fast
    path's are (``ticker_connections_closed_total``).
    """

    def __init__(
        self,
        runner: web.AppRunner,
        *,
        cap: int,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.runner = runner
        self._cap = cap
        self._clock = clock
        self.front: Front | None = None
        self.server: asyncio.AbstractServer | None = None

    async def start(
        self, host: str | None = None, port: int = 0, *, sock: socket.socket | None = None, **kwargs: Any
    ) -> int:
        """Start listening; the port bound."""
        server = self.runner.server
        if server is None:
            msg = "call runner.setup() before starting the front"
            raise RuntimeError(msg)
        app = self.runner.app
        metrics = app.get(keys.METRICS)
        on_close = None if metrics is None else metrics.connection_closed
        self.front = Front(server, app[keys.HOT_ANSWERS], cap=self._cap, on_close=on_close, clock=self._clock)
        loop = asyncio.get_running_loop()
        if sock is not None:
            self.server = await loop.create_server(self.front, sock=sock, **kwargs)
        else:
            self.server = await loop.create_server(self.front, host, port, **kwargs)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.front is not None:
            self.front.stop()
        if self.server is not None:
            self.server.close()
