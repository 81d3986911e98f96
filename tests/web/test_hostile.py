"""Hostile paths and query strings against a live app: no 5xx, no reflected input."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.helpers import front_door_server, poll_sim, web_app
from tests.support.hostile import run_hostile, send_raw
from ticker.web.fastpath import make_runner


class SafeTestServer(TestServer):
    """aiohttp's TestServer, served the way `ticker serve` serves."""

    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        return make_runner(self.app, **kwargs)


async def test_unparseable_requests_get_json_without_echo(settings, stations, store, clock):
    app = web_app(settings, stations, store, clock)
    async with SafeTestServer(app, host="127.0.0.1") as server:
        raw = await send_raw("127.0.0.1", server.port or 0, "/widget?lang=zqmarker\x00<b>")
        bad_line = await send_raw("127.0.0.1", server.port or 0, "/<script>zqmarker2 </script>")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400"
    assert b"Cache-Control: no-store" in head
    assert body == b'{"error":"bad_request","message":"the request could not be parsed"}'
    assert b"zqmarker" not in raw and b"zqmarker2" not in bad_line
    assert bad_line.split(b" ", 2)[1] == b"400"


async def test_hostile_requests_get_no_5xx_and_no_echo(settings, stations, store, clock):
    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    async with front_door_server(app) as server:
        outcome = await run_hostile("127.0.0.1", server.port or 0, 600, seed=7)
    print(f"\nhostile: {outcome.total} requests, statuses {dict(sorted(outcome.statuses.items()))}")
    assert outcome.no_answer == 0
    assert outcome.server_errors == []
    assert outcome.reflected == []
    assert set(outcome.statuses) <= {200, 400, 404, 405, 413, 414, 431}


async def test_methods_bodies_and_unknown_paths(aiohttp_client, settings, stations, store, clock):
    app = web_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        resp = await client.request(method, "/widget")
        assert resp.status == 405, method
        assert resp.headers["Cache-Control"] == "no-store"
        assert "GET" in resp.headers["Allow"]
    for size in (1, 1000, 1024 * 1024):
        resp = await client.get("/v1/observations", data=b"x" * size)
        assert resp.status == 413, size
        assert resp.headers["Cache-Control"] == "no-store"
    head = await client.head("/widget")
    assert head.status == 200 and await head.read() == b""
    for path in (
        "/nope",
        "/widget/../etc/passwd",
        "/static/../../pyproject.toml",
        "/.env",
        "/.ticker/redis.port",
    ):
        resp = await client.get(path)
        assert resp.status in (400, 404), path
        assert resp.headers["Cache-Control"] == "no-store"
        assert (await resp.json())["error"] in ("not_found", "bad_request")
    for path in ("/healthz?x=1", "/v1/freshness?x=1", "/status?x", "/metrics?x=1", "/openapi.json?x=1"):
        resp = await client.get(path)
        assert resp.status == 400, path


async def test_front_door_hits_are_counted_and_unparseable_requests_do_not_echo(
    settings, stations, store, clock
):
    import aiohttp

    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    async with front_door_server(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(25):
                async with http.get(base + "/widget") as resp:
                    assert resp.status == 200
            async with http.get(base + "/metrics") as resp:
                text = await resp.text()
        raw = await send_raw("127.0.0.1", server.port or 0, "/widget?lang=zqfront\\x01")
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("ticker_http_requests_total{")
        and 'route="/widget"' in line
        and 'status="200"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 25
    assert "ticker_served_data_age_seconds_count" in text
    assert b"zqfront" not in raw and raw.split(b" ", 2)[1] == b"400"
