"""/metrics: the shared state from Redis, per-process counters, and several worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from tests.conftest import ROOT, RedisServer
from tests.support.helpers import wait_for
from tests.support.ops_support import ops_app, poll, sample, samples
from tests.support.ports import free_port
from ticker.metrics import Metrics, upstream_error_kinds


async def test_metrics_export_times_not_ages(store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    text = await resp.text()
    seoul = {"station": "108", "name": "서울"}
    observed_at = clock().replace(minute=0).timestamp()  # the sim's 15:00 row
    assert sample(text, "ticker_station_observed_timestamp_seconds", **seoul) == observed_at
    assert sample(text, "ticker_station_fetched_timestamp_seconds", **seoul) == clock().timestamp()
    assert sample(text, "ticker_station_max_age_seconds", **seoul) == 7200
    assert sample(text, "ticker_station_late_after_seconds", **seoul) == 3600 + 1200
    assert sample(text, "ticker_poll_interval_seconds") == 60
    assert sample(text, "ticker_poller_last_cycle_timestamp_seconds") == clock().timestamp()
    assert sample(text, "ticker_source_up", source="sim") == 1
    assert sample(text, "ticker_source_failing", source="sim", kind="quota") == 0
    assert sample(text, "ticker_redis_up") == 1
    assert sample(text, "ticker_freshness_status") == 0
    assert sample(text, "ticker_snapshot_version") == 1
    assert sample(text, "ticker_is_leader") == 0  # this process does not poll
    every = samples(text)
    assert sum(1 for name, _ in every if name == "ticker_station_observed_timestamp_seconds") == 16


async def test_a_failing_source_shows_its_class(store, aiohttp_client, settings, stations, clock):
    app = ops_app(settings, stations, store, clock)
    client = await aiohttp_client(app)
    await poll(app)
    clock.advance(minutes=1)
    await store.record_source("sim", at=clock(), error_kind="quota", message="quota exceeded")
    text = await (await client.get("/metrics")).text()
    assert sample(text, "ticker_source_up", source="sim") == 0
    assert sample(text, "ticker_source_failing", source="sim", kind="quota") == 1
    assert sample(text, "ticker_source_failing", source="sim", kind="timeout") == 0
    assert sample(text, "ticker_freshness_status") == 1


def test_registry_is_injected_never_global() -> None:
    # The global registry has no public listing; its name table is what registration changes.
    before = set(REGISTRY._names_to_collectors)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.init_source("kma_apihub")
    assert set(REGISTRY._names_to_collectors) == before
    assert (
        registry.get_sample_value("ticker_polls_total", {"source": "kma_apihub", "outcome": "circuit_open"})
        == 0
    )
    for kind in upstream_error_kinds():
        assert (
            registry.get_sample_value("ticker_upstream_errors_total", {"source": "kma_apihub", "kind": kind})
            == 0
        )
    assert "auth" in upstream_error_kinds() and "quota" in upstream_error_kinds()


# ---------------------------------------------------------------------------------------------
# Several worker processes sharing PROMETHEUS_MULTIPROC_DIR, as `ticker serve` runs them.


class Serve:
    """A `ticker serve` process on a free port."""

    def __init__(self, env: dict[str, str], role: str, cwd: Path) -> None:
        self.port = free_port()
        self.log = (cwd / f"serve-{role}-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ticker", "serve", "--role", role, "--port", str(self.port)],
            env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def workers(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[Serve, Serve, Path]]:
    shared = tmp_path / "prom"
    shared.mkdir()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_SOURCE": "sim",
        "TICKER_POLL_INTERVAL_S": "3600",
        "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    poller, web = Serve(env, "all", tmp_path), Serve(env, "web", tmp_path)
    try:
        yield poller, web, shared
    finally:
        for proc in (web, poller):
            proc.stop()


async def test_two_processes_share_one_metrics_directory(workers, store) -> None:
    poller, web, shared = workers
    async with aiohttp.ClientSession() as http:

        async def up(url: str) -> bool:
            try:
                async with http.get(f"{url}/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(lambda: up(poller.url), timeout=45, what="the poller process to be ready")
        await wait_for(lambda: up(web.url), timeout=45, what="the web process to be ready")

        async def widget(url: str) -> None:
            async with http.get(f"{url}/widget") as resp:
                assert resp.status == 200
                await resp.read()

        await asyncio.gather(*(widget(poller.url) for _ in range(3)))
        await asyncio.gather(*(widget(web.url) for _ in range(5)))

        async def scrape(url: str) -> str:
            async with http.get(f"{url}/metrics") as resp:
                assert resp.status == 200
                return await resp.text()

        # Whichever process the scrape lands on, it counts the requests of both: each process
        # folds its front-door counts into the shared files at its own scrapes and once a second.
        async def counted_everywhere() -> bool:
            for url in (poller.url, web.url):
                text = await scrape(url)
                if sample(text, "ticker_served_data_age_seconds_count") != 8:
                    return False
            return True

        await wait_for(counted_everywhere, timeout=10, what="both processes' hits in each scrape")
        for url in (poller.url, web.url):
            text = await scrape(url)
            assert sample(text, "ticker_http_requests_total", route="/widget", status="200") == 8
            assert sample(text, "ticker_served_data_age_seconds_count") == 8
            assert sample(text, "ticker_is_leader") == 1  # one poller among the live processes
            assert sample(text, "ticker_polls_total", source="sim", outcome="ok") == 1
            assert sample(text, "ticker_station_observed_timestamp_seconds",
                          station="108", name="서울") is not None  # fmt: skip
        readyz = sample(await scrape(web.url), "ticker_http_requests_total",
                        route="/readyz", status="200")  # fmt: skip
        assert readyz is not None and readyz >= 2

        # The poller process goes away: its counts stay, its leadership does not.
        assert poller.stop() == 0
        text = await scrape(web.url)
        assert sample(text, "ticker_http_requests_total", route="/widget", status="200") == 8
        assert sample(text, "ticker_is_leader") == 0
    files = {p.name for p in shared.iterdir()}
    assert f"counter_{poller.proc.pid}.db" in files  # counters outlive their process
    assert f"gauge_livesum_{poller.proc.pid}.db" not in files  # live gauges do not
    assert f"gauge_livesum_{web.proc.pid}.db" in files
