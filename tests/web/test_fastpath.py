"""The front door on a real socket: answers written straight from the connection are the same
bytes the app sends, keep the order of pipelined requests, respect back-pressure and are counted."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram

from tests.support.helpers import front_door_server, poll_sim, wait_for, web_app
from tests.support.rawhttp import HOT_PATHS, Conn, connect, get, same_answers_to_mixed_pipelines
from ticker.metrics import observe_many
from ticker.web import keys
from ticker.web.answer import serialize_head as head
from ticker.web.fastpath import FastPathRunner, FastPathServer, capability, is_fast, make_runner


@asynccontextmanager
async def front_door(
    settings, stations, store, clock, **runner_kwargs
) -> AsyncIterator[tuple[FastPathRunner, str, int]]:
    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    runner = FastPathRunner(app, **runner_kwargs)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield runner, "127.0.0.1", port
    finally:
        await runner.cleanup()


def answered(runner: FastPathRunner) -> int:
    server = runner.server
    assert isinstance(server, FastPathServer)
    return server.answer.answered


async def test_connection_answers_are_the_apps_bytes(settings, stations, store, clock):
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        for path in HOT_PATHS:
            for extra in ((), ("Accept-Encoding: gzip, deflate, br",)):
                await conn.send(get(path, *extra))  # the variant is rendered and kept (if not yet)
                await conn.answer()
                # Queued behind a request the app answers, it is answered by aiohttp's own response
                # machinery; alone on an idle connection, straight from the connection.
                before = answered(runner)
                await conn.send(get("/widget?bad=1") + get(path, *extra))
                assert (await conn.answer()).status == 400
                routed = await conn.answer()
                assert answered(runner) == before, path
                await conn.send(get(path, *extra))
                direct = await conn.answer()
                assert answered(runner) == before + 1, path
                assert routed.status == 200 and routed.without_date() == direct.without_date(), path
                assert direct.header("Date") and direct.header("Server")
                etag = direct.header("ETag")
                assert etag is not None
                for inm in (etag, f"W/{etag}", f'"other", {etag}', "*"):
                    await conn.send(get(path, f"If-None-Match: {inm}", *extra))
                    not_modified = await conn.answer()
                    assert not_modified.status == 304 and not_modified.body == b""
                    assert not_modified.header("ETag") == etag
                    assert not_modified.header("Cache-Control") == direct.header("Cache-Control")
                    assert not_modified.header("Content-Length") is None
                await conn.send(get(path, 'If-None-Match: "stale"', *extra))
                assert (await conn.answer()).without_date() == direct.without_date()
        # gzip when asked for it (and the body is big enough), the plain bytes otherwise
        await conn.send(get("/widget", "Accept-Encoding: gzip"))
        zipped = await conn.answer()
        await conn.send(get("/widget", "Accept-Encoding: gzip;q=0"))
        plain = await conn.answer()
        assert zipped.header("Content-Encoding") == "gzip" and plain.header("Content-Encoding") is None
        assert len(zipped.body) < len(plain.body)
        assert not await _closed_soon(conn)


async def _closed_soon(conn: Conn) -> bool:
    try:
        return await asyncio.wait_for(conn.reader.read(1), 0.05) == b""
    except TimeoutError:
        return False


async def test_pipelined_requests_keep_their_order(settings, stations, store, clock):
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        await conn.send(get("/widget"))
        await conn.answer()
        before = answered(runner)
        body_get = b"GET /widget HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        # One write: a hot GET, a bad query, a hot GET, a GET with a body, a route, a hot GET.
        await conn.send(
            get("/widget")
            + get("/widget?bad=1")
            + get("/widget")
            + body_get
            + get("/healthz")
            + get("/widget")
        )
        statuses = [(await conn.answer()).status for _ in range(6)]
        assert statuses == [200, 400, 200, 413, 200, 200]
        # Only the first could be answered before the app: everything after the 400 waited its turn.
        assert answered(runner) - before <= 1
        await conn.send(get("/widget") + get("/widget") + get("/widget"))
        assert [(await conn.answer()).status for _ in range(3)] == [200, 200, 200]
        assert answered(runner) - before >= 3  # idle again: straight from the connection


@pytest.mark.parametrize(
    ("request_bytes", "why"),
    [
        (get("/widget", "Connection: close"), "Connection: close"),
        (get("/widget", version="1.0"), "HTTP/1.0"),
    ],
)
async def test_closing_requests_go_through_the_app_and_close(
    settings, stations, store, clock, request_bytes, why
):
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        await conn.send(get("/widget"))
        first = await conn.answer()
        before = answered(runner)
        await conn.send(request_bytes)
        again = await conn.answer()
        assert again.status == 200 and again.body == first.body, why
        assert answered(runner) == before, why
        assert await conn.closed(), why


async def test_head_and_other_methods_are_not_answered_from_the_connection(settings, stations, store, clock):
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        await conn.send(get("/widget"))
        await conn.answer()
        before = answered(runner)
        await conn.send(b"HEAD /widget HTTP/1.1\r\nHost: x\r\n\r\n")
        head_answer = await conn.answer(head_only=True)
        assert head_answer.status == 200 and head_answer.header("Content-Length") is not None
        await conn.send(b"DELETE /widget HTTP/1.1\r\nHost: x\r\n\r\n")
        deleted = await conn.answer()
        assert deleted.status == 405 and deleted.header("Cache-Control") == "no-store"
        assert answered(runner) == before


async def test_a_client_that_does_not_read_cannot_grow_the_write_buffer(settings, stations, store, clock):
    """Pipelined requests from a client that never reads: writes pause, then reading does."""
    count = 1500  # 1500 widget answers are 33 MB
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        await conn.send(get("/widget"))
        widget = await conn.answer()
        conn.writer.write(get("/widget") * count)  # not awaiting drain: the kernel takes what it can
        server = runner.server
        assert server is not None

        def buffered() -> int:
            return sum(
                h.transport.get_write_buffer_size() for h in server.connections if h.transport is not None
            )

        peak = 0
        for _ in range(50):  # the server works through what it read; the buffer must stay bounded
            await asyncio.sleep(0)
            peak = max(peak, buffered())
        assert peak < 4 * 2**20, peak  # the answers wait in the kernel, never piled up in the process
        bodies = [(await conn.answer()).body for _ in range(count)]  # all answered, in order
        assert all(body == widget.body for body in bodies)


async def test_front_door_hits_reach_the_metrics_at_scrape_time(settings, stations, store, clock):
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        app = runner.app
        await conn.send(get("/widget"))
        await conn.answer()
        await conn.send(get("/widget") * 40)
        for _ in range(40):
            assert (await conn.answer()).status == 200
        assert answered(runner) >= 40
        await conn.send(get("/metrics"))
        text = (await conn.answer()).body.decode()
        assert _sample(text, 'ticker_http_requests_total{route="/widget",status="200"}') == 41
        assert _sample(text, "ticker_served_data_age_seconds_count") == 41
        # Between scrapes, the counts are folded in once a second as well.
        await conn.send(get("/widget") * 5)
        for _ in range(5):
            await conn.answer()
        metrics = app[keys.METRICS]
        await wait_for(
            lambda: _async(next(iter(metrics.served_age.collect())).samples),
            what="the hot counts folded in without a scrape",
        )


async def _async(samples) -> bool:
    return any(s.name.endswith("_count") and s.value >= 46 for s in samples)


def _sample(text: str, series: str) -> float:
    match = re.search(re.escape(series) + r" ([0-9.e+]+)", text)
    assert match is not None, series
    return float(match.group(1))


@pytest.mark.parametrize("value", [0.0, 59.0, 60.0, 61.5, 7200.0, 99999.0])
def test_observe_many_records_what_repeated_observes_record(value):
    buckets = (60, 300, 600, 1200, 3600)
    one_by_one = Histogram("one", "h", buckets=buckets, registry=CollectorRegistry())
    bulk = Histogram("bulk", "h", buckets=buckets, registry=CollectorRegistry())
    for _ in range(7):
        one_by_one.observe(value)
    observe_many(bulk, value, 7)
    observe_many(bulk, value, 0)

    def samples(h: Histogram) -> list[tuple[str, dict[str, str], float]]:
        return [
            (s.name.split("_", 1)[1], s.labels, s.value)
            for s in next(iter(h.collect())).samples
            if "created" not in s.name
        ]

    assert samples(one_by_one) == samples(bulk)


def test_wire_heads_refuse_line_breaks():
    assert head(304, {"ETag": '"x"'}, None) == b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n'
    assert head(200, {}, 3) == b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
    for bad in ({"X": "a\r\nSet-Cookie: x"}, {"X\n": "a"}, {"X": "a\0"}):
        with pytest.raises(ValueError, match="line break"):
            head(200, bad, 0)


async def test_answers_from_the_connection_keep_it_alive_and_idle_ones_still_close(
    settings, stations, store, clock
):
    timeout = 0.5
    async with (
        front_door(settings, stations, store, clock, keepalive_timeout=timeout) as (runner, host, port),
        connect(host, port) as conn,
    ):
        await conn.send(get("/widget"))
        await conn.answer()
        server = runner.server
        assert server is not None
        (handler,) = server.connections
        loop = asyncio.get_running_loop()
        for _ in range(3):
            before = answered(runner)
            asked_at = loop.time()
            await conn.send(get("/widget"))
            await conn.answer()
            assert answered(runner) == before + 1
            # Each answer moves the idle deadline, as a routed answer does.
            assert handler._next_keepalive_close_time >= asked_at + timeout
        # Left idle, the connection is closed by the server's keep-alive timer.
        assert await conn.closed()
        assert loop.time() - asked_at >= timeout


async def test_mixed_pipelines_split_anywhere_get_the_apps_answers(settings, stations, store, clock):
    """Random runs of requests, cut at random byte boundaries: the front door answers exactly as
    aiohttp's own server with the same app does, in the same order."""
    from ticker.web.fastpath import SafeAppRunner

    await poll_sim(stations, store, clock)
    reference = SafeAppRunner(web_app(settings, stations, store, clock))
    await reference.setup()
    ref_site = web.TCPSite(reference, "127.0.0.1", 0)
    await ref_site.start()
    ref_port = ref_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with front_door(settings, stations, store, clock) as (runner, _, port):
            await same_answers_to_mixed_pipelines(port, ref_port, seed=20261125)
            assert answered(runner) > 0  # some of them came straight from the connection
    finally:
        await reference.cleanup()


async def test_without_the_parser_hooks_the_handler_level_still_answers(
    settings, stations, store, clock, monkeypatch
):
    """An aiohttp without what the connection level relies on: hot GETs still come from the
    snapshot, one level further in."""
    import ticker.web.fastpath

    monkeypatch.setattr(ticker.web.fastpath, "_PARSER_NEEDS", ("feed_data", "not_in_any_aiohttp"))
    async with (
        front_door(settings, stations, store, clock) as (runner, host, port),
        connect(host, port) as conn,
    ):
        await conn.send(get("/widget") * 3)
        bodies = {(await conn.answer()).body for _ in range(3)}
        assert len(bodies) == 1 and b"kma-ticker" in bodies.pop()
        assert answered(runner) == 0
        await conn.send(get("/metrics"))
        text = (await conn.answer()).body.decode()
        assert _sample(text, 'ticker_http_requests_total{route="/widget",status="200"}') == 3


# ---------------------------------------------------------------------------------------------
# The fence: capability check, the tested range, and the public-API mode.


def test_the_fast_path_is_active_on_this_aiohttp() -> None:
    """Prints what CI reports for each aiohttp it runs on."""
    import aiohttp

    reason = capability("on")
    print(f"\naiohttp {aiohttp.__version__}: fast path {'active' if reason is None else 'off: ' + reason}")
    assert reason is None


def test_a_missing_hook_turns_the_fast_path_off_and_names_it(monkeypatch) -> None:
    import ticker.web.fastpath as fastpath

    monkeypatch.setattr(fastpath, "_HANDLER_NEEDS", (*fastpath._HANDLER_NEEDS, "_gone_in_a_later_release"))
    fastpath._has_attribute.cache_clear()
    try:
        reason = capability("on")
        assert reason is not None and "RequestHandler._gone_in_a_later_release" in reason
        app = web.Application()
        runner = make_runner(app, mode="auto")
        assert type(runner) is web.AppRunner and not is_fast(runner)
    finally:
        fastpath._has_attribute.cache_clear()


def test_auto_keeps_to_the_tested_range_and_on_tries_a_newer_release(monkeypatch) -> None:
    import ticker.web.fastpath as fastpath

    monkeypatch.setattr(fastpath, "TESTED_RANGE", ((1, 0), (1, 1)))
    reason = capability("auto")
    assert reason is not None and "outside the tested range" in reason
    assert capability("on") is None
    assert is_fast(make_runner(web.Application(), mode="on"))
    assert not is_fast(make_runner(web.Application(), mode="auto"))


async def test_fast_path_off_answers_the_same_bytes_through_the_public_api(settings, stations, store, clock):
    """Off, as ``ticker serve`` runs it: aiohttp's own runner with the public front before it."""
    from ticker.web.front import FrontSite

    await poll_sim(stations, store, clock)
    bodies = []
    for mode in ("off", "auto"):
        runner = make_runner(web_app(settings, stations, store, clock), mode=mode)
        assert is_fast(runner) is (mode == "auto")
        await runner.setup()
        front = None
        if mode == "off":
            assert type(runner) is web.AppRunner  # aiohttp's own, nothing overridden
            front = FrontSite(runner, cap=100)
            port = await front.start("127.0.0.1", 0)
        else:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site.port
        try:
            async with connect("127.0.0.1", port) as conn:
                answers = []
                for _ in range(2):  # the first asks make the variants; the second come from the front
                    for path in HOT_PATHS:
                        await conn.send(get(path, "Accept-Encoding: gzip"))
                        answers.append((await conn.answer()).without_date())
                bodies.append(answers)
            if front is not None:
                assert front.front is not None and front.front.answer.answered > 0
        finally:
            if front is not None:
                await front.stop()
            await runner.cleanup()
    assert bodies[0] == bodies[1]


async def test_a_request_head_sent_too_slowly_is_closed_and_counted(
    settings, stations, store, clock, monkeypatch
):
    from ticker.web import fastpath, front

    # The front guards a connection until it hands it to aiohttp, the fast path's guard after.
    monkeypatch.setattr(fastpath, "HEAD_TIMEOUT_S", 0.5)
    monkeypatch.setattr(front, "HEAD_TIMEOUT_S", 0.5)
    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    async with front_door_server(app) as server:
        slow_r, slow_w = await asyncio.open_connection("127.0.0.1", server.port)
        slow_w.write(b"GET /widget HTTP/1.1\r\nHost: h\r\n")  # never finished
        # A keep-alive client whose second head stalls half-way is cut too.
        ka_r, ka_w = await asyncio.open_connection("127.0.0.1", server.port)
        ka_w.write(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
        await ka_r.readuntil(b'"ok"}')
        ka_w.write(b"GET /healthz HTTP/1.1\r\n")
        async with asyncio.timeout(5):
            assert await slow_r.read() == b""
            assert await ka_r.read() == b""
        slow_w.close()
        ka_w.close()
        metrics = app[keys.METRICS]
        assert metrics.connections_closed.labels("head_timeout")._value.get() == 2


async def test_a_refusal_before_routing_is_a_429_on_both_levels(settings, stations, store, clock):
    from ticker.web.snapshot import RenderBudget

    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    async with front_door_server(app) as server:
        app[keys.LIVE].budget = RenderBudget(1, burst=1, monotonic=lambda: 0.0)
        assert app[keys.LIVE].budget.take()  # spent, and it never refills here
        async with connect("127.0.0.1", server.port) as conn:
            # Idle keep-alive requests are refused on the connection, before routing.
            for query in ("theme=dark", "theme=dark&lang=en", "layout=list"):
                await conn.send(f"GET /widget/frame?{query} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
                answer = await conn.answer()
                assert answer.status == 429, query
                assert answer.header("Cache-Control") == "no-store" and answer.header("Retry-After") == "1"
            await conn.send(b"GET /widget/frame HTTP/1.1\r\nHost: h\r\n\r\n")
            assert (await conn.answer()).status == 200  # a kept variant is answered as ever
        async with connect("127.0.0.1", server.port) as conn:
            # Connection: close is never answered on the connection: the handler level refuses.
            await conn.send(b"GET /widget/frame?theme=dark HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            answer = await conn.answer()
            assert answer.status == 429 and answer.header("Retry-After") == "1"
