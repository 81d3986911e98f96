"""Headers on every route, 304s, the query allow-list, bounded variants and the front door."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re

import pytest
from aiohttp import ClientSession, web

from tests.support.helpers import parse_widget, poll_sim, web_app
from ticker.errors import ConfigError
from ticker.poll.poller import Poller
from ticker.poll.sources.sim import SimSource
from ticker.web import keys
from ticker.web.fastpath import FastPathRunner
from ticker.web.policy import check_frame_ancestors
from ticker.web.snapshot import LiveSnapshot, RenderBudget

CACHEABLE = [
    "/widget",
    "/widget/frame",
    "/embed.js",
    "/demo",
    "/v1/observations",
    "/v1/stations/108",
    "/widget?lang=en&theme=dark&layout=list&stations=108,98",
]
EMBEDDABLE = ("/widget", "/embed.js")
CC = re.compile(r"^public, max-age=\d+, stale-while-revalidate=\d+, stale-if-error=\d+$")


@pytest.fixture
async def client(aiohttp_client, settings, stations, store, clock):
    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    return await aiohttp_client(app)


@pytest.mark.parametrize("path", CACHEABLE)
async def test_cacheable_headers_and_304_on_every_route(client, path):
    resp = await client.get(path)
    assert resp.status == 200
    body = await resp.read()
    h = resp.headers
    assert CC.match(h["Cache-Control"]) and "s-maxage" not in h["Cache-Control"]
    assert re.fullmatch(r'"[0-9a-f]{24}"', h["ETag"])
    assert h.getall("Vary") == ["Accept-Encoding"]
    if "json" in h["Content-Type"] or path in EMBEDDABLE:
        assert h["Access-Control-Allow-Origin"] == "*"
        assert h["Access-Control-Expose-Headers"] == "ETag, Date, Age"
    if path.startswith("/widget") or path == "/embed.js":
        assert "X-Frame-Options" not in h
    else:
        assert h["X-Frame-Options"] == "DENY"
    for tag in (h["ETag"], "W/" + h["ETag"], '"nope", ' + h["ETag"]):
        again = await client.get(path, headers={"If-None-Match": tag})
        assert again.status == 304, tag
        assert await again.read() == b""
        for name in ("ETag", "Cache-Control", "Vary"):
            assert again.headers[name] == h[name]
    other = await client.get(path, headers={"If-None-Match": '"other"'})
    assert other.status == 200 and await other.read() == body


async def test_pinned_script_is_content_addressed_and_immutable(client):
    demo = await (await client.get("/demo")).text()
    tag = re.search(
        r'src="(/embed\.([0-9a-f]{16})\.js)" integrity="sha384-([A-Za-z0-9+/=]+)" crossorigin="anonymous"',
        demo,
    )
    assert tag is not None
    path, name_hash, integrity = tag.groups()
    resp = await client.get(path)
    body = await resp.read()
    assert resp.status == 200 and body == await (await client.get("/embed.js")).read()
    digest = hashlib.sha384(body).digest()
    assert base64.b64decode(integrity) == digest and digest.hex().startswith(name_hash)
    h = resp.headers
    assert h["Cache-Control"] == "public, max-age=31536000, immutable"
    assert h["Access-Control-Allow-Origin"] == "*" and h["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert h["Content-Type"] == "text/javascript; charset=utf-8" and "X-Frame-Options" not in h
    again = await client.get(path, headers={"If-None-Match": h["ETag"]})
    assert again.status == 304 and again.headers["Cache-Control"] == h["Cache-Control"]
    # Another release's (or a made-up) hash is not this script: 404, never a different body.
    other = "0" * 16 if name_hash != "0" * 16 else "1" * 16
    for wrong in (f"/embed.{other}.js", f"{path}?v=1", "/embed..js", f"/embed.{name_hash}.js.map"):
        miss = await client.get(wrong)
        assert miss.status in (400, 404), wrong
        assert miss.headers["Cache-Control"] == "no-store", wrong


async def test_gzip_copy_is_the_same_bytes(client):
    plain = await (
        await client.get("/widget", auto_decompress=False, headers={"Accept-Encoding": "identity"})
    ).read()
    resp = await client.get("/widget", auto_decompress=False, headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await resp.read()) == plain
    refused = await client.get("/widget", auto_decompress=False, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


@pytest.mark.parametrize(
    "path,status",
    [
        ("/widget?zq<x>=1", 400),
        ("/widget?lang=zq<x>", 400),
        ("/widget?lang=ko&lang=en", 400),
        ("/widget?stations=108,zq", 400),
        ("/widget?stations=1", 400),
        ("/widget?theme=" + "a" * 400, 400),
        ("/embed.js?v=zq1", 400),
        ("/v1/observations?lang=en", 400),
        ("/zq<x>", 404),
        ("/v1/stations/999", 404),
        ("/v1/stations/zq", 404),
    ],
)
async def test_errors_are_json_no_store_and_never_echo(client, path, status):
    resp = await client.get(path)
    assert resp.status == status
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.text()
    assert json.loads(body)["error"]
    assert "zq" not in body and "<x>" not in body


async def test_405_and_500_are_no_store(aiohttp_client, settings, stations, store, clock):
    app = web_app(settings, stations, store, clock)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    resp = await client.post("/widget", data=b"x")
    assert resp.status == 405 and resp.headers["Cache-Control"] == "no-store"
    resp = await client.get("/boom")
    assert resp.status == 500 and resp.headers["Cache-Control"] == "no-store"
    assert "secret" not in await resp.text()


async def test_variants(client, stations):
    en = parse_widget(await (await client.get("/widget?lang=en")).text())
    assert en.attribution.strip() == "Simulated data · not real weather" and "Seoul" in [
        s["name"] for s in en.stations
    ]
    some = await client.get("/widget?stations=108,98")
    page = parse_widget(await some.text())
    order = [s.id for s in stations if s.id in (98, 108)]
    assert [int(s["id"]) for s in page.stations] == order
    same = await client.get("/widget?stations=98,108")
    assert same.headers["ETag"] == some.headers["ETag"]
    twice = await client.get("/widget?stations=108,98,108")  # a repeated id is folded, not refused
    assert twice.status == 200 and twice.headers["ETag"] == some.headers["ETag"]
    assert "kt-dark" in await (await client.get("/widget?theme=dark")).text()
    assert "kt-layout-list" in await (await client.get("/widget?layout=list")).text()
    doc = json.loads(await (await client.get("/v1/observations?stations=108")).text())
    assert [s["id"] for s in doc["stations"]] == [108]


async def test_icons_are_opt_in_per_variant(client, stations):
    plain = await client.get("/widget")
    drawn = await client.get("/widget?icons=on")
    assert plain.status == drawn.status == 200
    assert plain.headers["ETag"] != drawn.headers["ETag"]
    plain_html, drawn_html = await plain.text(), await drawn.text()
    assert "<svg" not in plain_html
    assert drawn_html.count('<svg class="kt-icon"') == len(parse_widget(drawn_html).stations) == len(stations)
    # The same text either way; icons=off is the default spelled out: the same answer.
    assert parse_widget(plain_html).lines() == parse_widget(drawn_html).lines()
    off = await client.get("/widget?icons=off")
    assert off.headers["ETag"] == plain.headers["ETag"]
    frame = await (await client.get("/widget/frame?icons=on&lang=en")).text()
    assert '<svg class="kt-icon"' in frame
    demo = await (await client.get("/demo?icons=on")).text()
    assert demo.count('data-icons="on"') == 3 and "/widget?icons=on" in demo  # every way it shows
    assert "data-icons" not in await (await client.get("/demo")).text()
    for bad in (
        "/widget?icons=yes",
        "/widget?icons=on&icons=off",
        "/widget.txt?icons=on",
        "/v1/amp?icons=on",
    ):
        resp = await client.get(bad)
        assert resp.status == 400, bad
        assert "yes" not in await resp.text()


async def test_duplicate_stations_mean_the_distinct_stations_named(client, stations):
    ids = [s.id for s in stations]
    only = await client.get("/widget?stations=" + ",".join(["98"] * len(ids)))
    assert [int(s["id"]) for s in parse_widget(await only.text()).stations] == [98]
    two = await client.get("/widget?stations=" + ",".join(["98"] * (len(ids) - 1) + ["105"]))
    assert sorted(int(s["id"]) for s in parse_widget(await two.text()).stations) == [98, 105]
    doc = json.loads(await (await client.get("/v1/observations?stations=98,98")).text())
    assert [s["id"] for s in doc["stations"]] == [98]
    every = await client.get("/widget?stations=" + ",".join(str(i) for i in reversed(ids)))
    assert every.headers["ETag"] == (await client.get("/widget")).headers["ETag"]


async def test_variant_cache_is_bounded(client, stations):
    live = client.app[keys.LIVE]
    live.budget = RenderBudget(10_000)  # this test is about the cache's bound, not the render rate
    ids = [s.id for s in stations]
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            resp = await client.get(f"/widget?stations={ids[i]},{ids[j]}")
            assert resp.status == 200
    assert live.variant_count <= live.max_variants
    small = LiveSnapshot(
        stations, clock=live.clock, hard_max_age_s=3600, max_variants=4, max_aliases=8, renders_per_s=10_000
    )
    for n in range(100):
        small.get(("k", n), lambda view: (b"x", "text/plain", {}), alias=f"/x?{n}")
    assert small.variant_count == 4 and small.alias_count == 8


async def test_renders_past_the_budget_are_refused_and_kept_variants_still_answered(client, stations):
    live = client.app[keys.LIVE]
    now = [1000.0]
    live.budget = RenderBudget(2, burst=2, monotonic=lambda: now[0])
    assert (await client.get("/widget?lang=en")).status == 200
    same = await client.get("/widget?stations=105,98")
    assert same.status == 200
    refused = await client.get("/widget?theme=dark")
    assert refused.status == 429
    assert refused.headers["Cache-Control"] == "no-store" and refused.headers["Retry-After"] == "1"
    assert (await refused.json())["error"] == "too_many_variants"
    renders = live.renders
    # Kept variants, the same variant under another URL, and every pinned route still answer.
    for path in ("/widget", "/widget?lang=en", "/widget?stations=98,105,98", "/widget?lang=ko&stations=98,105",
                 "/v1/observations", "/v1/stations/108", "/widget/frame", "/embed.js", "/demo"):  # fmt: skip
        resp = await client.get(path)
        assert resp.status == 200, path
    assert (await client.get("/widget?stations=98,105")).headers["ETag"] == same.headers["ETag"]
    assert live.renders == renders
    now[0] += 0.5
    assert (await client.get("/widget?theme=dark")).status == 200


async def test_a_tick_re_renders_only_variants_asked_for_again(client, stations):
    live = client.app[keys.LIVE]
    await live.rerender()
    pinned = live.variant_count  # the routes' default variants and each station
    for lang in ("en", "ko"):
        for theme in ("dark", "light"):
            assert (await client.get(f"/widget?lang={lang}&theme={theme}&layout=list")).status == 200
    assert live.variant_count == pinned + 4
    assert (await client.get("/widget?lang=en&theme=dark&layout=list")).status == 200  # again
    renders = live.renders
    await live.rerender()  # the one-off variants are dropped; the pinned and the repeated one kept
    assert live.variant_count == pinned + 1
    assert live.renders - renders == pinned + 1
    await live.rerender()  # nobody asked for it since
    assert live.variant_count == pinned
    assert (await client.get("/widget?lang=en&theme=dark&layout=list")).status == 200  # renders again


async def test_hot_path_neither_renders_nor_reads_redis(client, store):
    live = client.app[keys.LIVE]
    await client.get("/widget")
    renders = live.renders
    before = int((await store.redis.info("stats"))["total_commands_processed"])
    for _ in range(200):
        assert (await client.get("/widget")).status == 200
    after = int((await store.redis.info("stats"))["total_commands_processed"])
    assert live.renders == renders
    # The INFO call itself, plus the follower's start-up (SUBSCRIBE, GET version) if it is late.
    assert after - before <= 3


async def test_tick_shows_staleness_and_the_new_date_without_new_data(client, clock):
    live = client.app[keys.LIVE]
    first = await client.get("/widget")
    clock.advance(hours=9)  # 2025-07-29 00:05 KST: past max_age, and a new day
    still = await client.get("/widget")
    assert still.headers["ETag"] == first.headers["ETag"]  # bytes are pre-rendered
    await live.rerender()
    later = await client.get("/widget")
    page = parse_widget(await later.text())
    assert page.date.strip() == "2025.07.29 (화)"
    assert all("kt-stale" in s["class"] for s in page.stations)
    assert later.headers["ETag"] != first.headers["ETag"]


async def test_frame_csp_hashes_its_styles_and_ancestors_come_from_settings(
    aiohttp_client, settings, stations, store, clock
):
    import base64
    import hashlib

    settings = settings.model_copy(update={"frame_ancestors": "https://news.example 'self'"})
    app = web_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    resp = await client.get("/widget/frame")
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors https://news.example 'self'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp
    for style in re.findall(r"<style>(.*?)</style>", await resp.text(), re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    for bad in (
        "",
        "https://a.example; script-src *",
        "'none' https://a.example",
        "javascript:x\n",
    ):
        with pytest.raises(ConfigError):
            check_frame_ancestors(bad)


async def test_front_door_answers_like_the_app(settings, stations, store, clock, unused_tcp_port):
    poller = Poller(stations=stations, source=SimSource(), store=store, clock=clock, interval_s=60)
    await poller.run_once()
    app = web_app(settings, stations, store, clock)
    runner = FastPathRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    try:
        async with ClientSession(base_url=f"http://127.0.0.1:{unused_tcp_port}") as http:
            for path in (
                "/widget",
                "/widget",
                "/widget?lang=en",
                "/widget?lang=en",
                "/v1/observations",
            ):
                async with http.get(path) as resp:
                    assert resp.status == 200
                    assert CC.match(resp.headers["Cache-Control"])
                    etag = resp.headers["ETag"]
                async with http.get(path, headers={"If-None-Match": etag}) as resp:
                    assert resp.status == 304
            async with http.get("/widget?bad=1") as resp:
                assert resp.status == 400 and resp.headers["Cache-Control"] == "no-store"
            async with http.head("/widget") as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_embed_script_is_filled_in_and_takes_no_parameters(client, stations):
    resp = await client.get("/embed.js")
    assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
    text = await resp.text()
    assert "__TICKER_" not in text
    assert f"var STATIONS = {len(stations)};" in text
    assert 'attachShadow({ mode: "closed" })' in text
    assert (await client.get("/embed.js?v=2")).status == 400
