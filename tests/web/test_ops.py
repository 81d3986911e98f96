"""The ops routes through aiohttp's test client, against the real Redis and the sim source.

Tests ask for ``store`` before ``aiohttp_client`` so that the app is closed before its Redis client.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from tests.support.helpers import wait_for
from tests.support.ops_support import has_cycle, ops_app, parse_status, poll, sample
from tests.support.ports import free_port
from ticker.app import LEASE, POLLER
from ticker.commands import check
from ticker.redis_client import connect
from ticker.store import Store

SECRET = "S3CR3T-KMA-KEY"


async def test_freshness_json_after_a_poll(store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    resp = await client.get("/v1/freshness")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    doc = json.loads(await resp.text())
    assert doc["status"] == "ok"
    assert doc["generated_at"] == "2025-07-28T15:05:00+09:00"
    assert doc["counts"] == {"fresh": 16, "late": 0, "stale": 0, "missing": 0}
    assert [s["id"] for s in doc["stations"]] == [s.id for s in stations]
    seoul = next(s for s in doc["stations"] if s["id"] == 108)
    assert seoul["state"] == "fresh"
    assert seoul["observed_at"] == "2025-07-28T15:00:00+09:00"
    assert seoul["fetched_at"] == "2025-07-28T15:05:00+09:00"
    assert seoul["age_s"] == 300
    assert (seoul["expected_interval_s"], seoul["max_age_s"]) == (3600, 7200)
    assert seoul["source"] == "sim"
    assert doc["poller"]["alive"] is True
    assert doc["poller"]["holder"] is None  # a web process polled by hand: nobody holds the lease
    assert doc["version"] == doc["served_version"] == 1
    assert doc["sources"][0]["name"] == "sim" and doc["sources"][0]["state"] == "ok"
    assert doc["cycles"][0]["outcome"] == "ok"


async def test_station_turns_stale_everywhere_and_recovers(
    store, aiohttp_client, settings, stations, clock, capsys
):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    seoul = next(s for s in stations if s.id == 108)

    clock.advance(seconds=seoul.max_age_s + 1)
    await poll_heartbeat_only(store, clock)  # the poller keeps running; the upstream gives nothing new

    doc = json.loads(await (await client.get("/v1/freshness")).text())
    assert doc["status"] == "critical"
    assert {s["state"] for s in doc["stations"]} == {"stale"}
    page = parse_status(await (await client.get("/status")).text())
    assert page.overall == "critical"
    assert page.states[108] == "stale"
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "ticker_station_state", station="108", name="서울", state="stale") == 1.0
    assert sample(metrics, "ticker_station_state", station="108", name="서울", state="fresh") == 0.0
    assert sample(metrics, "ticker_freshness_status") == 2.0
    assert await check(settings, stations, clock=clock) == 2
    assert capsys.readouterr().out.startswith(
        "CRITICAL - 0 of 16 stations fresh; 16 of 16 stations stale or missing: 동두천 stale, "
    )

    clock.advance(minutes=1)
    await poll(app)  # the upstream is back
    doc = json.loads(await (await client.get("/v1/freshness")).text())
    assert doc["status"] == "ok"
    assert parse_status(await (await client.get("/status")).text()).states[108] == "fresh"
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "ticker_station_state", station="108", name="서울", state="fresh") == 1.0
    assert await check(settings, stations, clock=clock) == 0
    assert capsys.readouterr().out == "OK - 16 of 16 stations fresh\n"


async def poll_heartbeat_only(store: Store, clock) -> None:
    """A cycle that brought nothing new, as the poller records it."""
    await store.record_cycle(
        {
            "started_at": clock().timestamp(),
            "source": "sim",
            "outcome": "error",
            "error_kind": "timeout",
            "message": "no answer",
        },
        heartbeat_ttl_s=60,
    )
    await store.record_source("sim", at=clock(), error_kind="timeout", message="no answer")


async def test_status_page_is_a_self_refreshing_table(store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    clock.advance(minutes=90)  # past expected interval + grace: late, not yet stale
    resp = await client.get("/status")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    page = parse_status(await resp.text())
    assert page.refresh == "10"
    assert page.overall == "critical"  # the poller has been silent for 90 min
    assert list(page.states) == [s.id for s in stations]
    assert set(page.states.values()) == {"late"}
    row = page.rows[108]
    assert row[0] == "late"
    assert row[1] == "서울 Seoul #108"
    assert row[2] == "15:00"
    assert row[3] == "1 h 35 min"
    assert row[4] == "1 h 20 min / 2 h"
    assert row[6] == "sim"
    assert any("poller not polling" in p for p in page.problems)
    assert any("16 of 16 stations late" in p for p in page.problems)


async def test_status_escapes_and_redacts_what_upstreams_said(
    store, aiohttp_client, settings, stations, clock
):
    settings = settings.model_copy(update={"kma_auth_key": SECRET})
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    message = f"<script>alert(1)</script> GET /kma_sfctm2.php?tm=&authKey={SECRET} timed out"
    await store.record_source("sim", at=clock(), error_kind="timeout", message=message)
    await store.record_cycle(
        {
            "started_at": clock().timestamp(),
            "source": "sim",
            "outcome": "error",
            "error_kind": "timeout",
            "message": message,
        },
        heartbeat_ttl_s=60,
    )
    for path in ("/status", "/v1/freshness", "/metrics", "/readyz"):
        body = await (await client.get(path)).text()
        assert SECRET not in body, path
    page = await (await client.get("/status")).text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "authKey=***" in page


async def test_readyz_names_each_check(store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    resp = await client.get("/readyz")
    assert resp.status == 503
    doc = await resp.json()
    assert doc["ok"] == ["redis", "source"]  # TICKER_SOURCE=sim is set: simulated on purpose
    assert set(doc["failing"]) == {"snapshot", "poll_heartbeat"}
    assert doc["failing"]["poll_heartbeat"] == "no poll cycle recorded"

    await poll(app)
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {
        "role": "web",
        "ok": ["redis", "snapshot", "poll_heartbeat", "source"],
        "failing": {},
    }

    clock.advance(seconds=settings.effective_poll_interval_s * 3 + 31)
    resp = await client.get("/readyz")
    assert resp.status == 503
    doc = await resp.json()
    assert doc["ok"] == ["redis", "snapshot", "source"]
    assert doc["failing"]["poll_heartbeat"] == "last poll cycle 211 s ago (limit 210 s)"

    assert (await client.get("/healthz")).status == 200  # alive all along


@pytest.fixture
async def dead_store() -> AsyncIterator[Store]:
    """A store whose Redis does not exist."""
    dead = connect(f"redis://127.0.0.1:{free_port()}/0")
    yield Store(dead)
    await dead.aclose()


async def test_readyz_and_freshness_without_redis(dead_store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, dead_store, clock)
    client = await aiohttp_client(app)
    resp = await client.get("/readyz")
    assert resp.status == 503
    doc = await resp.json()
    assert doc["ok"] == ["source"]
    assert doc["failing"]["redis"].startswith("redis: ")
    assert "127.0.0.1" not in doc["failing"]["redis"]
    resp = await client.get("/v1/freshness")
    assert resp.status == 200
    doc = await resp.json()
    assert (doc["status"], doc["redis"]) == ("critical", "unreachable")
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "ticker_redis_up") == 0.0
    resp = await client.get("/status")
    assert resp.status == 200
    page = await resp.text()
    assert parse_status(page).overall == "critical"
    assert "unknown while Redis is unreachable" in page  # not "never polled": we cannot know


async def test_requests_are_counted_by_route_and_status(store, aiohttp_client, settings, stations, clock):
    registry = CollectorRegistry()
    app = ops_app(settings, stations, store, clock, registry=registry)
    client = await aiohttp_client(app)
    await poll(app)
    for _ in range(3):
        assert (await client.get("/widget")).status == 200
    assert (await client.get("/v1/stations/108")).status == 200
    assert (await client.get("/v1/stations/999")).status == 404
    assert (await client.get("/no/such/page")).status == 404
    assert (await client.get("/wp-login.php")).status == 404
    assert (await client.post("/widget")).status == 405
    assert (await client.get("/widget?x=1")).status == 400

    def count(route: str, status: str) -> float | None:
        return registry.get_sample_value("ticker_http_requests_total", {"route": route, "status": status})

    assert count("/widget", "200") == 3
    assert count("/widget", "400") == 1
    assert count("unmatched", "405") == 1  # no route takes POST
    assert count("/v1/stations/{id}", "200") == 1
    assert count("/v1/stations/{id}", "404") == 1
    assert count("unmatched", "404") == 2  # unknown paths share one series
    assert count("/widget", "405") is None


async def test_served_data_age_is_observed_for_reader_answers(
    store, aiohttp_client, settings, stations, clock
):
    registry = CollectorRegistry()
    app = ops_app(settings, stations, store, clock, registry=registry)
    client = await aiohttp_client(app)
    await poll(app)
    resp = await client.get("/widget")
    etag = resp.headers["ETag"]
    assert (await client.get("/widget", headers={"If-None-Match": etag})).status == 304
    clock.advance(minutes=30)
    assert (await client.get("/v1/stations/108")).status == 200
    assert (await client.get("/v1/freshness")).status == 200  # ops answers are not reader answers
    assert (await client.get("/v1/stations/999")).status == 404

    def value(suffix: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"ticker_served_data_age_seconds{suffix}", labels)

    assert value("_count") == 3
    assert value("_sum") == 300 + 300 + 2100
    assert value("_bucket", le="300.0") == 2
    assert value("_bucket", le="1800.0") == 2
    assert value("_bucket", le="3600.0") == 3


async def test_leader_gauge_follows_the_poller(store, aiohttp_client, settings, stations, clock):
    web_registry, all_registry = CollectorRegistry(), CollectorRegistry()
    await aiohttp_client(ops_app(settings, stations, store, clock, role="web", registry=web_registry))
    settings = settings.model_copy(update={"poll_interval_s": 3600.0})
    app = ops_app(settings, stations, store, clock, role="all", registry=all_registry)
    client = await aiohttp_client(app)
    # The lease is taken and a cycle starts at once; let it finish before the app closes.
    await wait_for(lambda: has_cycle(store), what="the first poll cycle")
    assert app[LEASE].held
    assert web_registry.get_sample_value("ticker_is_leader") == 0
    assert all_registry.get_sample_value("ticker_is_leader") == 1
    holder = (await (await client.get("/v1/freshness")).json())["poller"]["holder"]
    assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
    assert 0 < holder["expires_in_s"] <= settings.lease_ttl_s
    assert holder["epoch"] == app[LEASE].epoch
    page = await (await client.get("/status")).text()
    assert f"{socket.gethostname()} pid {os.getpid()} (this process)" in page
    # Every class of upstream failure exists from the start, so alerts can rate() it.
    assert (
        all_registry.get_sample_value("ticker_upstream_errors_total", {"source": "sim", "kind": "quota"}) == 0
    )


async def test_cycle_hook_counts_cycles_and_logs_transitions(
    store, aiohttp_client, settings, stations, clock, caplog
):
    registry = CollectorRegistry()
    app = ops_app(settings, stations, store, clock, registry=registry)
    await aiohttp_client(app)
    caplog.set_level(logging.INFO, logger="ticker")
    hook_app_poll = await poll(app)
    assert hook_app_poll.outcome == "ok"
    assert registry.get_sample_value("ticker_polls_total", {"source": "sim", "outcome": "ok"}) == 1
    assert registry.get_sample_value("ticker_poll_duration_seconds_count", {"source": "sim"}) == 1
    assert (
        registry.get_sample_value("ticker_last_poll_success_timestamp_seconds", {"source": "sim"})
        == clock().timestamp()
    )
    assert [r for r in caplog.records if r.name == "ticker.freshness"] == []


@pytest.mark.parametrize("role", ["web", "poller"])
async def test_snapshot_check_only_where_it_matters(store, aiohttp_client, settings, stations, clock, role):
    settings = settings.model_copy(update={"poll_interval_s": 3600.0})
    app = ops_app(settings, stations, store, clock, role=role)
    client = await aiohttp_client(app)
    if role == "poller":
        await wait_for(lambda: has_cycle(store), what="the first poll cycle")
    doc = await (await client.get("/readyz")).json()
    named = set(doc["ok"]) | set(doc["failing"])
    assert ("snapshot" in named) is (role == "web")
    assert doc["role"] == role
    assert POLLER in app if role == "poller" else POLLER not in app


@pytest.mark.parametrize(
    "path", ["/widget", "/widget/frame", "/embed.js", "/demo", "/v1/observations", "/v1/stations/108"]
)
async def test_a_poller_serves_no_reader_route(store, aiohttp_client, settings, stations, clock, path):
    settings = settings.model_copy(update={"poll_interval_s": 3600.0})
    client = await aiohttp_client(ops_app(settings, stations, store, clock, role="poller"))
    await wait_for(lambda: has_cycle(store), what="the first poll cycle")  # it has data to show
    resp = await client.get(path)
    assert resp.status == 404
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.content_type == "application/json"
    assert (await resp.json())["error"] == "not_found"
    # The ops routes are there.
    assert (await client.get("/metrics")).status == 200


async def test_readyz_fails_on_simulated_weather_nobody_chose(
    store, aiohttp_client, settings, stations, clock
):
    # No key and no TICKER_SOURCE: the service runs on simulated weather by default.
    implicit = settings.model_copy(update={"source": None, "kma_auth_key": None})
    assert implicit.effective_source == "sim"
    app = ops_app(implicit, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    for path in ("/readyz", "/readyz?check=snapshot"):  # a web replica's narrow probe included
        resp = await client.get(path)
        assert resp.status == 503, path
        doc = await resp.json()
        assert list(doc["failing"]) == ["source"], path
        assert "TICKER_KMA_AUTH_KEY" in doc["failing"]["source"]
        assert "TICKER_SOURCE=sim" in doc["failing"]["source"]
    freshness = await (await client.get("/v1/freshness")).json()
    assert freshness["simulated"] is True
    page = await (await client.get("/status")).text()
    assert "simulated data · not real weather" in page

    # Chosen explicitly: ready.
    app = ops_app(implicit.model_copy(update={"source": "sim"}), stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    resp = await client.get("/readyz")
    assert resp.status == 200 and "source" in (await resp.json())["ok"]


async def test_readyz_runs_only_the_checks_asked_for(store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    clock.advance(hours=1)  # the poller has been silent: the full readiness fails
    assert (await client.get("/readyz")).status == 503
    # What a load balancer asks of a web process: can it serve? (Redis or the poller failing
    # must not pull every replica out at once.)
    resp = await client.get("/readyz?check=snapshot")
    assert resp.status == 200
    assert await resp.json() == {"role": "web", "ok": ["snapshot", "source"], "failing": {}}
    resp = await client.get("/readyz?check=redis,poll_heartbeat")
    assert resp.status == 503
    doc = await resp.json()
    assert doc["ok"] == ["redis", "source"] and list(doc["failing"]) == ["poll_heartbeat"]
    for bad in ("/readyz?check=disk", "/readyz?verbose=1"):
        resp = await client.get(bad)
        assert resp.status == 400, bad
        assert "disk" not in await resp.text()


async def test_json_answers_name_their_charset_and_metrics_are_never_cached(
    store, aiohttp_client, settings, stations, clock
):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    paths = (
        "/openapi.json",
        "/v1/observations",
        "/v1/freshness",
        "/healthz",
        "/readyz",
        "/nope",
        "/widget?lang=xx",
    )
    for path in paths:
        resp = await client.get(path)
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8", path
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
