"""The public front (``TICKER_FAST_PATH=off``) on a real socket: the same bytes and order as
aiohttp's own server with the same app, slow and idle clients closed, every hit counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from tests.support.helpers import poll_sim, web_app
from tests.support.rawhttp import HOT_PATHS, MIXED, Conn, connect, get, same_answers_to_mixed_pipelines
from ticker.web import front as front_module
from ticker.web import keys
from ticker.web.front import FrontSite


class Clock:
    """The front's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def fronted(
    settings, stations, store, clock, *, cap: int = 1000
) -> AsyncIterator[tuple[FrontSite, int, Clock]]:
    """The app as ``ticker serve`` serves it with the fast path off: aiohttp's own runner, the front before it."""
    await poll_sim(stations, store, clock)
    runner = web.AppRunner(web_app(settings, stations, store, clock), access_log=None)
    await runner.setup()
    ticks = Clock()
    site = FrontSite(runner, cap=cap, clock=ticks)
    port = await site.start("127.0.0.1", 0)
    try:
        yield site, port, ticks
    finally:
        await site.stop()
        await runner.cleanup()


@asynccontextmanager
async def reference(settings, stations, store, clock) -> AsyncIterator[int]:
    """aiohttp's own server, nothing before it, with another copy of the same app."""
    runner = web.AppRunner(web_app(settings, stations, store, clock), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site.port
    finally:
        await runner.cleanup()


def answered(site: FrontSite) -> int:
    assert site.front is not None
    return site.front.answer.answered


async def warm(port: int, *requests: bytes) -> None:
    """Ask once through aiohttp so the variants are rendered and kept."""
    async with connect("127.0.0.1", port) as conn:
        for request in requests:
            await conn.send(get("/nope") + request)  # the 404 hands the connection to aiohttp
            await conn.answer()
            await conn.answer()


async def test_front_answers_are_the_apps_bytes(settings, stations, store, clock):
    async with (
        fronted(settings, stations, store, clock) as (site, port, _),
        reference(settings, stations, store, clock) as ref_port,
    ):
        variants = [get(path, *extra) for path in HOT_PATHS for extra in ((), ("Accept-Encoding: gzip, br",))]
        await warm(port, *variants)
        async with connect("127.0.0.1", port) as conn, connect("127.0.0.1", ref_port) as ref:
            for request in variants:
                before = answered(site)
                await conn.send(request)
                direct = await conn.answer()
                assert answered(site) == before + 1, request
                await ref.send(request)
                routed = await ref.answer()
                assert direct.status == 200 and direct.without_date() == routed.without_date(), request
                assert direct.header("Date") and direct.header("Server")
                etag = direct.header("ETag")
                for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                    await conn.send(get(request.split(b" ")[1].decode(), f"If-None-Match: {inm}"))
                    not_modified = await conn.answer()
                    assert not_modified.status == 304 and not_modified.header("ETag") == etag
                    assert not_modified.header("Content-Length") is None
            assert answered(site) == before + 5


async def test_mixed_pipelines_split_anywhere_get_the_apps_answers(settings, stations, store, clock):
    """Random runs of requests, cut at random byte boundaries: the front answers exactly as
    aiohttp's own server with the same app does, in the same order."""
    async with (
        fronted(settings, stations, store, clock) as (site, port, _),
        reference(settings, stations, store, clock) as ref_port,
    ):
        await warm(port, *(request for request, _ in MIXED[:8]))
        await same_answers_to_mixed_pipelines(port, ref_port, seed=20261130)
        assert answered(site) > 0  # some of them came from the front


async def _whole(conn: Conn) -> bytes:
    """Everything the server sends until it closes, Date lines taken out."""
    data = await asyncio.wait_for(conn.reader.read(), 10)
    return b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Date: "))


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /widget HTTP/1.1\nHost: x\n\n",  # bare line feeds
        b"GET /widget HTTP/1.1\r\nHost: x\r\nX-A: b\x01c\r\n\r\n",  # a control character
        b"GET /widget HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",  # an obsolete line fold
        b"GET /widget HTTP/1.1\r\nHo st: x\r\n\r\n",  # a space in a header name
        b"GET /widget HTTP/1.1\r\nHost x\r\n\r\n",  # no colon
        b"GET /widget HTTP/1.1\r\n: x\r\n\r\n",  # no name
        b"GET /wid get HTTP/1.1\r\nHost: x\r\n\r\n",  # a space in the target
        b"GET /widget\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",  # raw UTF-8 in the target
        b"GET /widget HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET /widget HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /widget HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"GET /widget HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
        b"GET http://x/widget HTTP/1.1\r\nHost: x\r\n\r\n",  # absolute form
        b"get /widget HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /widget HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /widget HTTP/1.1\r\n" + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n",
    ],
)
async def test_what_the_front_does_not_read_plainly_gets_aiohttps_own_answer(
    settings, stations, store, clock, request_bytes
):
    async with (
        fronted(settings, stations, store, clock) as (site, port, _),
        reference(settings, stations, store, clock) as ref_port,
    ):
        await warm(port, get("/widget"))
        before = answered(site)
        answers = []
        for target in (port, ref_port):
            async with connect("127.0.0.1", target) as conn:
                await conn.send(request_bytes)
                conn.writer.write_eof()
                answers.append(await _whole(conn))
        assert answers[0] == answers[1]
        assert answered(site) == before


async def test_a_head_in_pieces_is_answered_once_whole(settings, stations, store, clock):
    async with fronted(settings, stations, store, clock) as (site, port, _):
        await warm(port, get("/widget"))
        before = answered(site)
        request = get("/widget", "Accept-Encoding: gzip")
        async with connect("127.0.0.1", port) as conn:
            for i in range(0, len(request), 7):
                await conn.send(request[i : i + 7])
                await asyncio.sleep(0)
            assert (await conn.answer()).header("Content-Encoding") == "gzip"
            await conn.send(request * 3)
            assert [(await conn.answer()).status for _ in range(3)] == [200, 200, 200]
        assert answered(site) == before + 4


async def test_slow_heads_and_idle_connections_are_closed_and_counted(settings, stations, store, clock):
    async with fronted(settings, stations, store, clock) as (site, port, ticks):
        front = site.front
        assert front is not None
        await warm(port, get("/widget"))
        async with (
            connect("127.0.0.1", port) as never,
            connect("127.0.0.1", port) as stalled,
            connect("127.0.0.1", port) as idle,
            connect("127.0.0.1", port) as busy,
        ):
            await stalled.send(get("/widget"))
            await stalled.answer()
            await stalled.send(b"GET /widget HTTP/1.1\r\nHost")  # the next head stalls half-way
            await idle.send(get("/widget"))
            await idle.answer()
            await busy.send(get("/widget"))
            await busy.answer()
            ticks.now += front_module.HEAD_TIMEOUT_S - 1
            await busy.send(get("/widget"))
            await busy.answer()
            front.sweep()  # nothing is late yet
            assert front.closed_by == {"head_timeout": 0, "idle": 0, "shed": 0}
            ticks.now += 2
            front.sweep()
            assert await never.closed() and await stalled.closed()
            assert front.closed_by["head_timeout"] == 2
            ticks.now += front_module.KEEPALIVE_IDLE_S
            front.sweep()
            assert await idle.closed() and await busy.closed()
            assert front.closed_by["idle"] == 2
        metrics = site.runner.app[keys.METRICS]
        assert metrics.connections_closed.labels("head_timeout")._value.get() == 2


async def test_at_the_cap_each_new_connection_closes_the_slowest(settings, stations, store, clock):
    async with fronted(settings, stations, store, clock, cap=2) as (site, port, ticks):
        await warm(port, get("/widget"))
        async with connect("127.0.0.1", port) as reader_a, connect("127.0.0.1", port) as silent:
            await reader_a.send(get("/widget"))
            await reader_a.answer()
            ticks.now += 1
            async with connect("127.0.0.1", port) as newcomer:
                assert await silent.closed()  # never sent a head: closed first
                await newcomer.send(get("/widget"))
                assert (await newcomer.answer()).status == 200
                await reader_a.send(get("/widget"))
                assert (await reader_a.answer()).status == 200
        assert site.front is not None and site.front.closed_by["shed"] == 1


async def test_front_hits_reach_the_metrics(settings, stations, store, clock):
    async with fronted(settings, stations, store, clock) as (site, port, _):
        await warm(port, get("/widget"))
        async with connect("127.0.0.1", port) as conn:
            await conn.send(get("/widget") * 5)
            for _ in range(5):
                await conn.answer()
            before = answered(site)
            await conn.send(get("/metrics"))  # a route: the connection goes to aiohttp
            text = (await conn.answer()).body.decode()
        assert before >= 5
        line = next(
            ln
            for ln in text.splitlines()
            if ln.startswith('ticker_http_requests_total{route="/widget",status="200"}')
        )
        assert float(line.rsplit(" ", 1)[1]) == 6  # the warm-up through aiohttp and five from the front


async def test_a_client_that_does_not_read_stops_being_read(settings, stations, store, clock):
    count = 1500  # 1500 widget answers are 15 MB
    async with fronted(settings, stations, store, clock) as (site, port, _):
        await warm(port, get("/widget"))
        async with connect("127.0.0.1", port) as conn:
            conn.writer.write(get("/widget") * count)  # not awaiting drain
            assert site.front is not None
            (only,) = site.front.connections
            peak = 0
            for _ in range(50):
                await asyncio.sleep(0)
                transport = only._transport
                assert transport is not None
                peak = max(peak, transport.get_write_buffer_size())
            assert peak < 4 * 2**20, peak
            bodies = {(await conn.answer()).body for _ in range(count)}
            assert len(bodies) == 1


def test_joined_answer_bytes_carry_the_date_of_the_second_they_are_sent_in(monkeypatch):
    """The whole answer is joined once per second and answer; a new second brings a new Date."""
    from ticker.web.answer import HotAnswers, make_rendered

    widget = make_rendered(b"<div>" + b"x" * 2000 + b"</div>", "text/html; charset=utf-8")
    counted: list[tuple[str, int]] = []
    hot = HotAnswers({"/widget": widget}.get, lambda path, status: counted.append((path, status)))
    answers = front_module.FrontAnswers(hot)
    now = [1_764_460_800.2]  # 2025-11-30 00:00:00.2 UTC
    monkeypatch.setattr(front_module, "_time", lambda: now[0])
    monkeypatch.setattr("ticker.web.answer.time.time", lambda: now[0])
    head = b"GET /widget HTTP/1.1\r\nHost: x"
    first = answers(head)
    assert first is not None and b"Date: Sun, 30 Nov 2025 00:00:00 GMT\r\n" in first
    assert first.endswith(widget.body) and first.startswith(widget.plain.head)
    now[0] += 0.5
    assert answers(head) is first  # the same second: the same bytes, not joined again
    now[0] += 0.5
    later = answers(head)
    assert later is not None and b"Date: Sun, 30 Nov 2025 00:00:01 GMT\r\n" in later
    zipped = answers(head + b"\r\nAccept-Encoding: gzip")
    assert zipped is not None and widget.gzip is not None and zipped.endswith(widget.gzip)
    assert counted == [("/widget", 200)] * 4 and answers.answered == 4
    assert answers(b"GET /other HTTP/1.1\r\nHost: x") is None


async def test_a_failure_in_the_front_hands_the_request_to_aiohttp(settings, stations, store, clock, caplog):
    """Should the front's lookup ever fail, the request is still answered, by aiohttp."""
    async with fronted(settings, stations, store, clock) as (site, port, _):
        await warm(port, get("/widget"))
        assert site.front is not None

        def broken(head: bytes) -> bytes | None:
            raise RuntimeError("lookup failed")

        site.front.answer = broken  # type: ignore[assignment]
        async with connect("127.0.0.1", port) as conn:
            await conn.send(get("/widget") + get("/widget"))
            assert [(await conn.answer()).status for _ in range(2)] == [200, 200]
        assert "the front could not answer a request" in caplog.text
