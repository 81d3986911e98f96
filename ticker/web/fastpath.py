"""The fast path: the only module that relies on aiohttp's private internals.

A widget is fetched on every article page, so its answer must cost next to nothing beyond
reading the request. With the fast path on, two levels answer hot GETs before any routing:

- **On the connection.** When the HTTP parser hands over a request while the connection is
  idle (nothing queued, nothing being handled, writes not paused) and it is a plain HTTP/1.1
  GET without a body, for a raw path a kept variant was already answered for, the variant's
  pre-serialized answer is written to the transport there and then: no request object, no
  task, no routing. The parser is still aiohttp's, so every request is checked the same way.
- **In the server's handler.** Any other GET for such a path (the first on a connection,
  one pipelined behind a routed request, HTTP/1.0, ``Connection: close``) is answered from the
  same bytes with a ``web.Response`` before routing.

It also replaces aiohttp's protocol-level error pages (a request aiohttp cannot parse is
answered before any middleware, with a text body quoting the offending bytes) with the app's
JSON error shape, which echoes nothing.

Everything here overrides or reads names aiohttp does not promise to keep. ``capability()``
checks every one of them, and the aiohttp version against the range the conformance tests
(``tests/web/test_fastpath.py``) ran on; with ``TICKER_FAST_PATH=off``, or when the check
fails, ``make_runner`` returns a plain ``web.AppRunner`` and the routed handlers answer
everything through aiohttp's public API alone.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Literal

import aiohttp
from aiohttp import web, web_protocol
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler

from ticker.models import ErrorDocument
from ticker.web import keys
from ticker.web.answer import DateBlock, HotAnswers
from ticker.web.front import HEAD_TIMEOUT_S, KEEPALIVE_IDLE_S, SWEEP_EVERY_S

logger = logging.getLogger(__name__)

Mode = Literal["auto", "on", "off"]
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

# The aiohttp releases the conformance tests ran on: [low, high). "auto" uses the fast path only
# there; "on" uses it on any release that has every hook (to try a new release under the tests).
TESTED_RANGE = ((3, 14, 4), (3, 15))

# Every private name this module reads or overrides, by the object it belongs to.
_HANDLER_NEEDS = (
    "_waiter",
    "_messages",
    "_paused",
    "_max_msg_queue_size",
    "_request_count",
    "_manager",
    "_keepalive_timeout",
    "_next_keepalive_close_time",
    "_keepalive_handle",
    "_process_keepalive",
    "_loop",
    "_parser",
    "handle_error",
)
_PARSER_NEEDS = ("feed_data", "message_consumed")
_SERVER_NEEDS = (
    "_loop",
    "_kwargs",
    "_connections",
    "request_handler",
    "requests_count",
    "shutdown",
    "connection_made",
)
_HANDLE_ERROR_PARAMS = ("self", "request", "status", "exc", "message")
# How a parse error is handed to the request loop; looked up once, not per chunk of data.
_ERR_INFO: Any = getattr(web_protocol, "_ErrInfo", None)


def _version() -> tuple[int, ...]:
    parts = []
    for piece in aiohttp.__version__.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def capability(mode: Mode = "auto") -> str | None:
    """Why the fast path cannot be used with this aiohttp and ``mode``, or None when it can."""
    if mode == "off":
        return "switched off (TICKER_FAST_PATH=off)"
    missing = [n for n in ("_make_server",) if not hasattr(web.AppRunner, n)]
    missing += [f"Server.{n}" for n in _SERVER_NEEDS if not _has_attribute(web.Server, n)]
    missing += [f"RequestHandler.{n}" for n in _HANDLER_NEEDS if not _has_attribute(RequestHandler, n)]
    if _ERR_INFO is None:
        missing.append("web_protocol._ErrInfo")
    if tuple(inspect.signature(RequestHandler.handle_error).parameters) != _HANDLE_ERROR_PARAMS:
        missing.append("RequestHandler.handle_error(request, status, exc, message)")
    if missing:
        return f"aiohttp {aiohttp.__version__} lacks {', '.join(missing)}"
    low, high = TESTED_RANGE
    if mode == "auto" and not low <= _version() < high:
        return f"aiohttp {aiohttp.__version__} is outside the tested range (TICKER_FAST_PATH=on to try it)"
    return None


@functools.cache
def _has_attribute(cls: type, name: str) -> bool:
    """Whether instances of ``cls`` have ``name``: a class attribute, a slot, or set in __init__."""
    if hasattr(cls, name):
        return True
    for klass in cls.__mro__:
        if name in getattr(klass, "__slots__", ()):
            return True
        init = klass.__dict__.get("__init__")
        if init is not None:
            try:
                source = inspect.getsource(init)
            except (OSError, TypeError):
                continue
            if f"self.{name} =" in source or f"self.{name}:" in source:
                return True
    return False


def parser_supported(handler: RequestHandler) -> bool:
    """Whether this connection's parser has what the connection level uses."""
    parser = getattr(handler, "_parser", None)
    return parser is not None and all(hasattr(parser, n) for n in _PARSER_NEEDS)


FD_RESERVE = 100  # descriptors kept free for Redis, the upstream, logs and files


def connection_cap() -> int:
    """Most client connections a process keeps open: below its file-descriptor limit."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 65_536
    return max(16, int(soft) - FD_RESERVE)


class ConnectionGuard:
    """Slow and idle clients cannot hold the process: head timeout, and a cap with shedding.

    A connection whose request head is not complete ``HEAD_TIMEOUT_S`` after it began (for
    the first request: after the connection opened) is closed by a sweep once a second. At
    ``cap`` open connections, each new one makes room by closing the slowest: one that never
    completed a request head, oldest first, else the longest idle; one log line when shedding
    starts and one when it ends, and a counter for every connection closed this way.
    """

    def __init__(self, cap: int, on_close: Any = None) -> None:
        self.cap = cap
        self.shedding = False
        self.closed: dict[str, int] = {"head_timeout": 0, "shed": 0}
        self._on_close = on_close or (lambda reason: None)
        self._handle: asyncio.TimerHandle | None = None

    def _close(self, handler: Any, reason: str) -> None:
        transport = handler.transport
        if transport is not None and not transport.is_closing():
            transport.abort()
            self.closed[reason] += 1
            self._on_close(reason)

    def opened(self, server: web.Server, handler: Any) -> None:
        loop = server._loop
        handler.ticker_opened_at = loop.time()
        if self._handle is None:
            self._handle = loop.call_later(SWEEP_EVERY_S, self._sweep, server)
        connections = server._connections
        if len(connections) <= self.cap:
            return
        if not self.shedding:
            self.shedding = True
            logger.warning("connection limit %d reached: closing the slowest connections", self.cap)
        victim = min(
            (h for h in connections if h is not handler and not _closing(h)),
            key=_slowest_first,
            default=None,
        )
        if victim is not None:
            self._close(victim, "shed")

    def _sweep(self, server: web.Server) -> None:
        loop = server._loop
        now = loop.time()
        for handler in list(server._connections):
            began = _head_began(handler)
            if began is not None and now - began > HEAD_TIMEOUT_S:
                self._close(handler, "head_timeout")
        if self.shedding and len(server._connections) < self.cap * 0.9:
            self.shedding = False
            logger.info(
                "connections back under the limit (%d open, limit %d)", len(server._connections), self.cap
            )
        self._handle = loop.call_later(SWEEP_EVERY_S, self._sweep, server)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _head_done(handler: Any) -> bool:
    """Whether the connection completed at least one request head (False sorts first)."""
    return bool(handler._request_count or handler._messages)


def _head_began(handler: Any) -> float | None:
    """When the request head now awaited began, if one is awaited and not yet complete."""
    if not _head_done(handler):
        return float(getattr(handler, "ticker_opened_at", 0.0))
    return getattr(handler, "ticker_head_since", None)


def _slowest_first(handler: Any) -> tuple[bool, float]:
    """Connections that never completed a head, oldest first; then the longest idle."""
    opened = float(getattr(handler, "ticker_opened_at", 0.0))
    if not _head_done(handler):
        return (False, opened)
    return (True, max(opened, float(getattr(handler, "ticker_active_at", 0.0))))


def _closing(handler: Any) -> bool:
    transport = handler.transport
    return transport is None or bool(transport.is_closing())


def make_runner(app: web.Application, *, mode: Mode = "auto", **kwargs: Any) -> web.AppRunner:
    """The runner a ticker process serves ``app`` with: the fast path when it can be used."""
    kwargs.setdefault("access_log", None)
    kwargs.setdefault("keepalive_timeout", KEEPALIVE_IDLE_S)
    reason = capability(mode)
    if reason is not None:
        if mode != "off":
            logger.warning("fast path off: %s; serving through aiohttp's public API", reason)
        return web.AppRunner(app, **kwargs)
    return FastPathRunner(app, **kwargs)


def is_fast(runner: web.AppRunner) -> bool:
    """Whether ``runner`` serves with the fast path."""
    return isinstance(runner, FastPathRunner)


class SafeRequestHandler(RequestHandler):
    """A connection whose protocol-level error pages carry no request bytes."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            logger.error("error handling a request", exc_info=exc)
        else:
            # Scanners and broken clients send these all day: one quiet line, no request bytes.
            logger.debug("unparseable request (%s)", type(exc).__name__ if exc else status)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error page")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        doc = ErrorDocument(
            error="bad_request" if status < 500 else "internal",
            message="the request could not be parsed" if status < 500 else phrase.lower(),
        )
        resp = web.Response(
            status=status,
            body=doc.model_dump_json().encode(),
            content_type="application/json",
            charset="utf-8",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
        resp.force_close()
        return resp


class _ConnectionAnswers:
    """Writes a kept variant's pre-serialized answer straight to the transport, or declines."""

    def __init__(self, hot: HotAnswers) -> None:
        self._find = hot.find
        self._date = DateBlock()
        self.answered = 0  # answers written on the connection level (for tests and benchmarks)

    def __call__(self, message: Any, payload: Any, transport: Any) -> bool:
        if (
            message.method != "GET"
            or payload is not EMPTY_PAYLOAD
            or message.should_close
            or message.upgrade
            or message.version != HttpVersion11
        ):
            return False
        headers = message.headers
        answer = self._find(message.path, headers.get("If-None-Match"), headers.get("Accept-Encoding"))
        if answer is None:
            return False
        transport.write(answer.head + self._date() + answer.body)
        self.answered += 1
        return True


class _AnsweringParser:
    """aiohttp's request parser, with the messages the connection level answered taken out."""

    __slots__ = ("_answer", "_parser", "_protocol")

    def __init__(self, parser: Any, protocol: FastPathHandler, answer: _ConnectionAnswers) -> None:
        self._parser = parser
        self._protocol = protocol
        self._answer = answer

    def feed_data(self, data: bytes) -> tuple[list[Any], bool, bytes]:
        parser, protocol, answer = self._parser, self._protocol, self._answer
        messages, upgraded, tail = parser.feed_data(data)
        now = protocol._loop.time()
        protocol.ticker_active_at = now
        if messages:
            protocol.ticker_head_since = None
        elif protocol.ticker_head_since is None:
            protocol.ticker_head_since = now  # bytes of a head that is not complete yet
        transport = protocol.transport
        if not messages or not protocol.idle() or transport is None or transport.is_closing():
            return messages, upgraded, tail
        # The parser stops emitting while ``limit`` messages are unconsumed and keeps the rest of
        # the data. Answered messages are consumed at once, so when a full batch was answered
        # (or partly answered), parsing goes on here; what the app must answer is handed over
        # in order, and a full queue pauses reading there as it would without the fast path.
        limit = protocol._max_msg_queue_size
        queued: list[Any] = []
        while True:
            paused = len(queued) + len(messages) >= limit
            for message, payload in messages:
                # In order: once one request goes to the app, every later one does too.
                if not queued and not protocol._paused and answer(message, payload, transport):
                    parser.message_consumed()
                    protocol.answered_one()
                else:
                    queued.append((message, payload))
            if not paused or upgraded or len(queued) >= limit:
                return queued, upgraded, tail
            try:
                messages, upgraded, tail = parser.feed_data(b"")
            except HttpProcessingError as exc:
                queued.append((_ERR_INFO(status=400, exc=exc, message=exc.message), EMPTY_PAYLOAD))
                return queued, False, b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class FastPathHandler(SafeRequestHandler):
    """A connection whose idle-time hot GETs are answered without entering the app."""

    ticker_head_since: float | None = None
    ticker_active_at: float = 0.0

    def __init__(self, manager: web.Server, *, answer: _ConnectionAnswers, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        if parser_supported(self):
            self._parser = _AnsweringParser(self._parser, self, answer)  # type: ignore[assignment]

    def idle(self) -> bool:
        """Waiting for a request, with none queued: an answer now cannot overtake another."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def answered_one(self) -> None:
        """Bookkeeping aiohttp does per request: counts and the keep-alive deadline."""
        self._request_count += 1
        manager = self._manager
        if manager is not None:
            manager.requests_count += 1
        if self._keepalive_timeout > 0:
            loop = self._loop
            self._next_keepalive_close_time = loop.time() + self._keepalive_timeout
            if self._keepalive_handle is None:
                self._keepalive_handle = loop.call_at(
                    self._next_keepalive_close_time, self._process_keepalive
                )


class SafeServer(web.Server):
    """aiohttp's low-level server, building connections whose error pages echo nothing."""

    guard: ConnectionGuard | None = None

    def __call__(self) -> RequestHandler:
        return SafeRequestHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if self.guard is not None:
            self.guard.opened(self, handler)

    async def shutdown(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - aiohttp's signature
        """aiohttp's graceful shutdown, but over within ``timeout`` in all.

        aiohttp waits up to ``timeout`` for a handler to finish and then as long again for the
        cancelled handler, per connection. A client that stops reading keeps its handler
        blocked on a full send buffer for both: at the deadline such connections are aborted.
        """
        if self.guard is not None:
            self.guard.stop()
        if timeout is None:
            await super().shutdown(timeout)
            return
        try:
            async with asyncio.timeout(timeout):
                await super().shutdown(timeout)
        except TimeoutError:
            left = [conn for conn in list(self._connections) if conn.transport is not None]
            logger.warning("shutdown: closing %d connection(s) that did not finish in time", len(left))
            for conn in left:
                if conn.transport is not None:
                    conn.transport.abort()
            self._connections.clear()


class SafeAppRunner(web.AppRunner):
    """An AppRunner whose connections answer unparseable requests with the JSON error shape.

    Everything else is aiohttp's own: the conformance tests compare the fast path with it.
    """

    server_class: type[web.Server] = SafeServer

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # Same object, same state: only the protocol factory changes.
        server.__class__ = self.server_class
        metrics = self.app.get(keys.METRICS)
        on_close = None if metrics is None else metrics.connection_closed
        server.guard = ConnectionGuard(connection_cap(), on_close)  # type: ignore[attr-defined]
        return server


class FastPathServer(SafeServer):
    """The low-level server, building fast-path connections."""

    answer: _ConnectionAnswers

    def __call__(self) -> RequestHandler:
        return FastPathHandler(self, loop=self._loop, answer=self.answer, **self._kwargs)


class FastPathRunner(SafeAppRunner):
    """An AppRunner that answers hot GETs from the snapshot before any routing."""

    server_class = FastPathServer

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        hot = self.app[keys.HOT_ANSWERS]
        server.answer = _ConnectionAnswers(hot)  # type: ignore[attr-defined]
        server.request_handler = _handler_level(hot, server.request_handler)
        return server

    @property
    def connection_answers(self) -> int:
        """How many answers were written on the connection level (for tests and benchmarks)."""
        server = self.server
        return server.answer.answered if isinstance(server, FastPathServer) else 0


def _handler_level(hot: HotAnswers, routed: Handler) -> Handler:
    """The per-request entry: a dictionary lookup and pre-rendered bytes, else the routed app."""
    find = hot.find

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "GET" and not request.body_exists:
            headers = request.headers
            answer = find(request.raw_path, headers.get("If-None-Match"), headers.get("Accept-Encoding"))
            if answer is not None:
                return answer.response()
        return await routed(request)

    return handle
