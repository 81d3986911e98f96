"""Holding under attack, against real `ticker serve` processes and a real Redis.

Each test is one failure an attack run found, reproduced with real processes, and what must hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.attack import rss_bytes, series, spread
from tests.support.fleet import Fleet, Replica, get, report
from tests.support.flood import run_flood
from tests.support.helpers import parse_widget, wait_until

REQUESTS = "ticker_http_requests_total"


def _targets(n: int) -> list[str]:
    """``n`` distinct request targets of every awkward form, each answered by some route or none."""
    forms = [
        "http://h{i}.example/widget",  # absolute-form, a new host each time
        "http://h{i}/widget?lang=en",
        "HTTP://H{i}.EXAMPLE:80/v1/observations",
        "/wid%67et?x{i}=1",  # percent-encoded path, an unknown parameter: 400 on /widget
        "/widget?stations=98&lang=k{i}",  # a value outside the allow-list: 400
        "/v1/stations/{i}",  # not a configured station: 404 on /v1/stations/{id}
        "/v1/stations/%31%30%38?{i}",
        "/%2e%2e/etc/{i}",  # nothing routes here
        "/scan-{i}.php?a=%00%ff",
        "http://h{i}/nowhere/{i}",
    ]
    return [forms[i % len(forms)].format(i=i) for i in range(n)]


def test_ten_thousand_distinct_targets_leave_the_request_series_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    with Fleet(tmp_path) as fleet:
        web = fleet.add("web", interval_s=5.0)
        web.wait_healthy()
        host, port = "127.0.0.1", web.port
        # Every form once, and the routes answered from kept bytes, so their series exist.
        warm = _targets(40) + ["/widget", "/v1/observations", "/v1/stations/108", "http://h/widget"] * 3
        asyncio.run(spread(host, port, warm, connections=4))
        get(web.base + "/metrics")
        status, before_text = get(web.base + "/metrics")
        assert status == 200
        before = series(before_text, REQUESTS)
        rss_before = rss_bytes(web.pid)

        statuses = asyncio.run(spread(host, port, _targets(10_000)[40:] + _targets(10_040)[10_000:]))
        assert sum(statuses.values()) == 10_000 and set(statuses) <= {200, 400, 404}

        status, after_text = get(web.base + "/metrics")
        rss_after = rss_bytes(web.pid)
        after = series(after_text, REQUESTS)
        report(
            capsys,
            f"\n10,000 distinct targets: {len(before)} -> {len(after)} request series; "
            f"RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB; statuses {dict(statuses)}",
        )
        assert after == before, sorted(after - before)[:5]
        assert all("route=" in s for s in after)
        assert rss_after - rss_before < 10 * 2**20
        assert len(after_text) < 100_000


def _ticker_check(env: dict[str, str], cwd: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "ticker", "check"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.returncode, proc.stdout.strip(), time.monotonic() - started


def _readyz(base: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    status, body = get(base + "/readyz", timeout=5)
    return status, (json.loads(body) if body.startswith("{") else {}), time.monotonic() - started


def test_redis_out_of_memory_and_paused_are_named_and_answered_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    interval = 1.0
    with Fleet(tmp_path) as fleet:
        web = fleet.add("web", interval_s=interval)
        web.wait_healthy()
        wait_until(lambda: web.widget_stations() == 16, timeout=15, what="a full widget")
        wait_until(lambda: _readyz(web.base)[0] == 200, timeout=10, what="ready")
        redis = fleet.redis.client()

        # Reachable, but out of memory with noeviction: every write is refused.
        redis.config_set("maxmemory", "1")
        full_at = time.monotonic()
        wait_until(lambda: _readyz(web.base)[0] == 503, timeout=2 * interval + 1, what="/readyz 503")
        _, doc, _ = _readyz(web.base)
        failing = doc["failing"]
        assert isinstance(failing, dict)
        assert failing["redis"] == "redis: refusing writes: out of memory (maxmemory reached)"
        status, body = get(web.base + "/v1/freshness")
        assert status == 200
        fresh = json.loads(body)
        assert fresh["redis"] == "refusing_writes" and "out of memory" in fresh["redis_reason"]
        assert "unreachable" not in body
        assert fresh["summary"].startswith("Redis refusing writes")
        _, metrics = get(web.base + "/metrics")
        assert 'ticker_redis_state{state="refusing_writes"} 1.0' in metrics
        _, status_page = get(web.base + "/status")
        assert "refusing" in status_page and "out of memory" in status_page
        code, line, _ = _ticker_check(web.env, web.workdir)
        assert code == 2 and "Redis refusing writes: out of memory" in line and "unreachable" not in line
        named_after = time.monotonic() - full_at
        wait_until(
            lambda: "cannot write to Redis" in web.log_text(),
            timeout=3 * interval,
            what="the poller's log line",
        )

        redis.config_set("maxmemory", "0")
        wait_until(lambda: _readyz(web.base)[0] == 200, timeout=3 * interval + 2, what="ready again")
        wait_until(
            lambda: "writing to Redis again" in web.log_text(), timeout=3 * interval + 2, what="recovery"
        )
        log = web.log_text()
        assert log.count("cannot write to Redis") == 1 and log.count("writing to Redis again") == 1
        assert log.count("Redis reachable but refusing writes: out of memory") == 1
        assert log.count("Redis ok again") == 1

        # Paused: connections are accepted, nothing is answered. Readiness and check stay quick.
        assert fleet.redis.proc is not None
        os.kill(fleet.redis.proc.pid, signal.SIGSTOP)
        try:
            timings = [_readyz(web.base) for _ in range(3)]
            code, line, check_s = _ticker_check(web.env, web.workdir)
        finally:
            os.kill(fleet.redis.proc.pid, signal.SIGCONT)
        report(
            capsys,
            f"\nRedis out of memory named by /readyz, /v1/freshness, /metrics, /status and check within "
            f"{named_after:.2f}s; paused: /readyz {[round(t[2], 2) for t in timings]} s "
            f"({timings[-1][0]}), check {check_s:.2f} s: {line[:90]}",
        )
        assert all(t[0] == 503 and t[2] <= 1.5 for t in timings)
        assert "redis" in timings[-1][1]["failing"]
        assert code == 2 and "Redis unreachable" in line
        assert check_s < 5  # interpreter start-up included; the Redis part is bounded at 1 s


def _widget_answers(base: str) -> float:
    _, text = get(base + "/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(REQUESTS + '{route="/widget"')
    )


def _non_reading_client(port: int, requests: int = 20_000) -> socket.socket:
    """A client that asks for a lot and reads nothing: its answers pile up in the server."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    burst = b"GET /widget HTTP/1.1\r\nHost: h\r\n\r\n" * requests
    with contextlib.suppress(BlockingIOError):
        sock.send(burst)
    return sock


def test_sigterm_exits_within_10s_with_clients_that_do_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    with Fleet(tmp_path) as fleet:
        web = fleet.add("web", interval_s=1.0)
        web.wait_healthy()
        wait_until(lambda: web.widget_stations() == 16, timeout=15, what="a full widget")
        clients = [_non_reading_client(web.port) for _ in range(4)]
        try:
            # The answers fill the kernel's buffers and then the server's: writing is paused, and
            # the count of answers stops moving (a scrape folds in every answer given so far).
            def stalled() -> bool:
                first = _widget_answers(web.base)
                return first >= 100 and _widget_answers(web.base) == first

            wait_until(stalled, timeout=10, what="answers to stop: the clients read nothing")
            code, exit_s = web.terminate(timeout=20)
        finally:
            for sock in clients:
                sock.close()
        report(capsys, f"\nSIGTERM with 4 non-reading clients: exit {code} after {exit_s:.2f}s")
        assert code == 0
        assert exit_s <= 10.0


def test_a_flood_of_distinct_variants_leaves_the_normal_client_served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    rate = 20
    with Fleet(tmp_path) as fleet:
        web = fleet.add("web", interval_s=5.0, env={"TICKER_RENDERS_PER_S": str(rate)})
        web.wait_healthy()
        wait_until(lambda: web.widget_stations() == 16, timeout=15, what="a full widget")
        ids = [int(s["id"]) for s in parse_widget(get(web.base + "/widget")[1]).stations]
        # Latency on a machine shared with other work (the suite's other workers) swings by
        # itself: what the budget guarantees is checked on every run, the latency on the best of
        # up to three.
        outcomes = []
        for _ in range(3):
            outcome = run_flood(web.base, tmp_path, ids, seconds=4)
            report(capsys, "\n" + "\n".join(outcome.lines()))
            outcomes.append(outcome)
            assert outcome.refused > 0  # the flood asked for more than the budget allows
            assert outcome.normal.non_2xx == 0
            # The budget holds: a fifth of a second's worth at once, then the rate (a clock tick
            # may re-render the pinned variants on top).
            assert outcome.renders <= rate * (outcome.seconds + 0.5) + 30
            if outcome.kept >= 0.25 and outcome.normal.p99_ms <= 20:
                break
        # On a quiet 2-core machine: >= 25 % kept and p99 <= 20 ms (bench/variant_flood.py and
        # bench/RESULTS.md). Shared with other work, the machine's own swings are allowed for.
        assert max(o.kept for o in outcomes) >= 0.2
        assert any(o.normal.p99_ms <= max(20.0, 5 * o.undisturbed.p99_ms) for o in outcomes), [
            (o.normal.p99_ms, o.undisturbed.p99_ms) for o in outcomes
        ]


class Slowloris:
    """``count`` connections that each send a request head a few bytes at a time, forever,
    opening a new one a second after the server closes one."""

    def __init__(self, port: int, count: int, every_s: float = 3.0) -> None:
        self.port, self.count, self.every_s = port, count, every_s
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _one(self) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            try:
                writer.write(b"GET /widget HTTP/1.1\r\nHost: h\r\n")
                while not self._stop.is_set() and not reader.at_eof():
                    writer.write(b"X-a: b\r\n")
                    await writer.drain()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(reader.read(1024), self.every_s)
            except OSError:
                pass
            finally:
                writer.close()
            self.reopened += 1
            await asyncio.sleep(1.0)

    async def _run(self) -> None:
        tasks = [asyncio.create_task(self._one()) for _ in range(self.count)]
        await asyncio.to_thread(self._stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)


def test_slowloris_under_1024_descriptors_leaves_room_for_good_clients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if (hard != resource.RLIM_INFINITY and hard < 2048) or shutil.which("prlimit") is None:
        pytest.skip("needs prlimit and 2,048 descriptors for the test's own connections")
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (max(soft, 4096) if hard == resource.RLIM_INFINITY else min(hard, 4096), hard)
    )
    with Fleet(tmp_path) as fleet:
        web = Replica(tmp_path, "web", fleet.redis.url, interval_s=5.0)
        fleet.replicas.append(web)
        with web.log_path.open("ab") as log:
            web.proc = subprocess.Popen(
                ["prlimit", "--nofile=1024", "--", sys.executable, "-m", "ticker", "serve"],
                env=web.env, cwd=web.workdir, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        web.wait_healthy()
        wait_until(lambda: web.widget_stations() == 16, timeout=15, what="a full widget")
        with Slowloris(web.port, 1100) as attack:
            settle = time.monotonic() + 15
            while time.monotonic() < settle:  # the first 15 s are not judged
                get(web.base + "/healthz", timeout=1)
            good = bad = 0
            why: Counter[str] = Counter()
            window = time.monotonic() + 6
            while time.monotonic() < window:
                status, body = get(web.base + "/widget", timeout=2)
                if status == 200 and len(parse_widget(body).stations) == 16:
                    good += 1
                else:
                    bad += 1
                    why[f"{status} {body[:40]}"] += 1
            reopened = attack.reopened
        _, metrics = get(web.base + "/metrics")
        log_text = web.log_text()
        report(
            capsys,
            f"\nslowloris 1,100 connections under 1,024 descriptors: {good} good, {bad} bad /widget "
            f"after 15 s ({dict(why.most_common(3))}); {reopened} slow connections closed by the server; "
            + " ".join(
                line for line in metrics.splitlines() if line.startswith("ticker_connections_closed_total")
            ),
        )
        assert good / (good + bad) >= 0.95
        assert reopened > 0
        assert log_text.count("connection limit 924 reached") <= 3  # once per episode, not per connection
