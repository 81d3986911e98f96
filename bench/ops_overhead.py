"""Measure what the ops layer costs the hot path, and what a scrape or a status page costs.

    python bench/ops_overhead.py [--requests 3000] [--multiproc]

1. The request-metrics middleware alone: counting the answer and observing the served data age,
   per call (in-process, no HTTP).
2. /widget through a real HTTP server on 127.0.0.1, with and without that middleware.
3. /metrics, /v1/freshness and /status (each reads Redis) per request.

With --multiproc the same runs with PROMETHEUS_MULTIPROC_DIR set (metrics in shared files).
Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

# The ticker and prometheus_client are imported inside the functions: prometheus_client chooses
# in-memory or file-backed values when first imported, after main() has settled the environment.


def micro(n: int) -> None:
    from prometheus_client import CollectorRegistry

    from ticker.metrics import Metrics
    from ticker.poll.sources.sim import SimSource
    from ticker.stations import load_stations
    from ticker.store import Snapshot
    from ticker.web.traffic import _AgeIndex

    stations = load_stations(Path("stations.yaml"))
    now = datetime.now(UTC)
    obs = asyncio.run(SimSource().fetch(stations, now))
    snap = Snapshot(version=1, observations={o.station_id: o for o in obs})
    metrics, ages = Metrics(CollectorRegistry()), _AgeIndex()
    ts = now.timestamp()
    started = time.perf_counter()
    for _ in range(n):
        metrics.count_request("/widget", 200)
        age = ages.oldest_shown(snap, ts, 21600)
        if age is not None:
            metrics.served_age.observe(age)
    per = (time.perf_counter() - started) / n * 1e6
    print(f"middleware work alone: {per:.2f} µs per request ({n} calls)")


async def macro(requests: int) -> None:
    from prometheus_client import CollectorRegistry
    from pydantic import SecretStr

    from ticker.app import create_app
    from ticker.config import Settings
    from ticker.embedded import free_port, start_redis_server, stop_redis_server
    from ticker.poll.poller import Poller
    from ticker.poll.sources.sim import SimSource
    from ticker.redis_client import connect
    from ticker.stations import load_stations
    from ticker.store import Store
    from ticker.web import keys

    stations = load_stations(Path("stations.yaml"))
    port = free_port()
    proc = start_redis_server(port=port, data_dir=None)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        redis = connect(url)
        store = Store(redis)
        poller = Poller(stations=stations, source=SimSource(), store=store,
                        clock=lambda: datetime.now(UTC), interval_s=60)  # fmt: skip
        await poller.run_once()
        settings = Settings(_env_file=None, redis_url=SecretStr(url), source="sim")
        runs = [("with the ops middleware", True), ("without it", False)] * 2
        for run, (label, keep) in enumerate(runs):
            app = create_app(settings, stations=stations, redis=redis, role="web",
                             registry=CollectorRegistry())  # fmt: skip
            if not keep:
                app.middlewares.pop(0)
            runner = aiohttp.web.AppRunner(app, access_log=None)
            await runner.setup()
            site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            await app[keys.LIVE].refresh(store)
            async with aiohttp.ClientSession() as http:
                for _ in range(200):  # warm up
                    async with http.get(f"{base}/widget") as resp:
                        await resp.read()
                times = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    async with http.get(f"{base}/widget") as resp:
                        await resp.read()
                    times.append(time.perf_counter() - t0)
                print(f"/widget {label}: median {statistics.median(times) * 1e6:.0f} µs, "
                      f"p99 {sorted(times)[int(len(times) * 0.99)] * 1e6:.0f} µs")  # fmt: skip
                if run == 0:
                    for path in ("/metrics", "/v1/freshness", "/status", "/readyz"):
                        times = []
                        for _ in range(200):
                            t0 = time.perf_counter()
                            async with http.get(f"{base}{path}") as resp:
                                await resp.read()
                            times.append(time.perf_counter() - t0)
                        print(f"{path}: median {statistics.median(times) * 1e3:.2f} ms")
            await runner.cleanup()
        await redis.aclose()
    finally:
        stop_redis_server(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--multiproc", action="store_true", help="metrics in shared files")
    args = parser.parse_args()
    if args.multiproc and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # prometheus_client picks its storage when imported: start over with the variable set.
        with tempfile.TemporaryDirectory() as shared:
            env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": shared}
            argv = [sys.executable, __file__, "--requests", str(args.requests), "--multiproc"]
            return subprocess.run(argv, env=env, check=False).returncode
    mode = "multiprocess files" if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else "in memory"
    print(f"metrics {mode}")
    micro(200_000)
    asyncio.run(macro(args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
