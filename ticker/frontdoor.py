"""The front door: hot GETs answered from the snapshot before any routing.

A widget is fetched on every article page, so its answer must cost next to nothing beyond
reading the request. Two levels do that:

- **On the connection.** When the HTTP parser hands over a request while the connection is
  idle (nothing queued, nothing being handled, writes not paused) and it is a plain HTTP/1.1
  GET without a body, for a raw path a kept variant was already answered for, the variant's
  pre-serialized answer is written to the transport there and then: no request object, no
  task, no routing. The parser is still aiohttp's, so every request is checked the same way.
- **In the server's handler.** Any other GET for such a path (the first on a connection,
  one pipelined behind a routed request, HTTP/1.0, ``Connection: close``) is answered from the
  same bytes with a ``web.Response`` before routing.

Everything else (misses, errors, other methods, other routes) goes through the application.
Both levels count their answers in the request and served-age metrics (``ops.HotTally``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from ticker import keys
from ticker.headers import choose, send
from ticker.live import LiveSnapshot
from ticker.ops import HotTally
from ticker.server import SafeAppRunner, SafeRequestHandler, SafeServer
from ticker.wire import DateBlock

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class HotAnswers:
    """Writes the pre-serialized answer to a request for a kept variant, or declines."""

    def __init__(self, live: LiveSnapshot, tally: HotTally) -> None:
        self._lookup = live.lookup
        self._count = tally.add
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
        path = message.path
        rendered = self._lookup(path)
        if rendered is None:
            return False
        headers = message.headers
        choice = choose(rendered, headers.get("If-None-Match"), headers.get("Accept-Encoding"))
        if choice == "not_modified":
            status, head, body = 304, rendered.not_modified_head, b""
        elif choice == "gzip":
            assert rendered.gzip is not None  # choose() picks gzip only when there is a copy
            status, head, body = 200, rendered.gzip_head, rendered.gzip
        else:
            status, head, body = 200, rendered.head, rendered.body
        transport.write(head + self._date() + body)
        self._count(path, status)
        self.answered += 1
        return True


class _AnsweringParser:
    """aiohttp's request parser, with the messages the front door answered taken out."""

    __slots__ = ("_answer", "_parser", "_protocol")

    def __init__(self, parser: Any, protocol: FrontDoorHandler, answer: HotAnswers) -> None:
        self._parser = parser
        self._protocol = protocol
        self._answer = answer

    def feed_data(self, data: bytes) -> tuple[list[Any], bool, bytes]:
        parser, protocol, answer = self._parser, self._protocol, self._answer
        messages, upgraded, tail = parser.feed_data(data)
        transport = protocol.transport
        if not messages or not protocol.idle() or transport is None or transport.is_closing():
            return messages, upgraded, tail
        # The parser stops emitting while ``limit`` messages are unconsumed and keeps the rest of
        # the data. Answered messages are consumed at once, so when a full batch was answered
        # (or partly answered), parsing goes on here; what the app must answer is handed over
        # in order, and a full queue pauses reading there as it would without the front door.
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
                queued.append((_ErrInfo(status=400, exc=exc, message=exc.message), EMPTY_PAYLOAD))
                return queued, False, b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class FrontDoorHandler(SafeRequestHandler):
    """A connection whose idle-time hot GETs are answered without entering the app."""

    def __init__(self, manager: web.Server, *, answer: HotAnswers, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        if connection_answers_supported(self):
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


# What the connection level uses of aiohttp's request handler and parser. They are not public
# API: with an aiohttp that lacks any of them, the handler level alone answers hot GETs.
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
)
_PARSER_NEEDS = ("feed_data", "message_consumed")


def connection_answers_supported(handler: RequestHandler) -> bool:
    """Whether this aiohttp has what answering on the connection relies on."""
    return all(hasattr(handler, name) for name in _HANDLER_NEEDS) and all(
        hasattr(handler._parser, name) for name in _PARSER_NEEDS
    )


class FrontDoorServer(SafeServer):
    """The low-level server, building front-door connections."""

    answer: HotAnswers

    def __call__(self) -> RequestHandler:
        return FrontDoorHandler(self, loop=self._loop, answer=self.answer, **self._kwargs)


class FrontDoorRunner(SafeAppRunner):
    """An AppRunner that answers hot GETs from the snapshot before any routing."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = FrontDoorServer
        app = self.app
        server.answer = HotAnswers(app[keys.LIVE], app[keys.HOT_TALLY])  # type: ignore[attr-defined]
        server.request_handler = front_door(app, server.request_handler)
        return server


def front_door(app: web.Application, routed: Handler) -> Handler:
    """The per-request entry: a dictionary lookup and pre-rendered bytes, else the routed app."""
    lookup = app[keys.LIVE].lookup
    tally = app[keys.HOT_TALLY]

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "GET" and not request.body_exists:
            raw_path = request.raw_path
            rendered = lookup(raw_path)
            if rendered is not None:
                response = send(request, rendered)  # type: ignore[arg-type]
                tally.add(raw_path, response.status)
                return response
        return await routed(request)

    return handle
