"""Measure the sfctm2 parser and whole kma_apihub fetches against the fake API Hub.

    python bench/kma_apihub.py [--stations 96] [--fetches 200]

Prints parse throughput (rows/s) for a frame of N stations, and the latency percentiles of
fetch + parse + QC through a real HTTP round trip on 127.0.0.1. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

import aiohttp

from ticker.models import Station
from ticker.poll.qc import screen
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.kma_apihub import KmaApiHubSource
from ticker.poll.sources.kma_text import parse_frame
from ticker.testing.fake_upstream import FakeApiHub
from ticker.testing.rows import format_frame, format_row


def stations(n: int) -> list[Station]:
    return [
        Station(id=i, name=f"S{i}", name_en=f"S{i}", lat=33.5 + (i % 50) / 10, lon=126.0 + (i % 40) / 10,
                alt_m=50.0, nx=60, ny=127, max_age_s=7200, expected_interval_s=3600)
        for i in range(90, 90 + n)
    ]  # fmt: skip


def bench_parse(fake: FakeApiHub, n: int) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    from ticker.testing.payloads import station_row

    body = format_frame([format_row(station_row(s, hour)) for s in fake.stations.values()])
    rounds = max(1, 20000 // n)
    started = time.perf_counter()
    for _ in range(rounds):
        frame = parse_frame(body)
    spent = time.perf_counter() - started
    assert len(frame.rows) == n
    print(f"parse: {n} rows x {rounds} frames ({len(body)} bytes each): "
          f"{n * rounds / spent:,.0f} rows/s, {spent / rounds * 1000:.2f} ms per frame")  # fmt: skip


async def bench_fetch(fake: FakeApiHub, n: int, fetches: int) -> None:
    all_stations = list(fake.stations.values())
    async with aiohttp.ClientSession() as http:
        source = KmaApiHubSource(session=http, auth_key="k", base_url=fake.base_url, retry=NO_RETRY)
        times = []
        for _ in range(fetches):
            started = time.perf_counter()
            now = datetime.now(UTC)
            rows = await source.fetch(all_stations, now)
            qc = screen(rows, now, (s.id for s in all_stations))
            times.append(time.perf_counter() - started)
            assert len(qc.accepted) == n
    times.sort()
    q = statistics.quantiles(times, n=100)
    print(f"fetch+parse+QC over HTTP, {n} stations, {fetches} fetches: "
          f"p50 {q[49] * 1000:.2f} ms, p95 {q[94] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=96)
    parser.add_argument("--fetches", type=int, default=200)
    args = parser.parse_args()
    async with FakeApiHub(stations=stations(args.stations), auth_key="k") as fake:
        bench_parse(fake, args.stations)
        await bench_fetch(fake, args.stations, args.fetches)


if __name__ == "__main__":
    asyncio.run(main())
