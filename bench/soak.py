"""Soak: heavy load on /widget and /v1/observations while the poller writes every few seconds.

Two runs of DURATION seconds each, against one `ticker serve` process (role all, sim source,
a private redis-server):
  1. Redis up throughout;
  2. Redis stopped midway (and left down).
For each run it prints requests, 5xx count, non-200 count and the server's RSS after warm-up and
at the end. Needs `wrk` (Debian package). Talks to 127.0.0.1 only; stops by itself.

    python bench/soak.py [--duration 60] [--connections 64] [--poll 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from ticker.embedded import free_port, start_redis_server, stop_redis_server

WRK_SCRIPT = r"""
local threads = {}
local paths = {"/widget", "/v1/observations", "/widget?lang=en", "/v1/stations/108"}
function setup(thread) table.insert(threads, thread) end
function init(args) n = 0; s5 = 0; other = 0; i = 0 end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], {["Accept-Encoding"] = "gzip"})
end
function response(status, headers, body)
  n = n + 1
  if status >= 500 then s5 = s5 + 1 elseif status ~= 200 and status ~= 304 then other = other + 1 end
end
function done(summary, latency, requests)
  local tn, t5, to = 0, 0, 0
  for _, t in ipairs(threads) do tn = tn + t:get("n"); t5 = t5 + t:get("s5"); to = to + t:get("other") end
  io.write(string.format("RESULT total=%d s5xx=%d other=%d errors=%d p99_ms=%.2f\n",
    tn, t5, to, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(99) / 1000))
end
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_http(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - 127.0.0.1
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"service did not come up at {url}")


def run(duration: int, connections: int, poll_s: float, stop_redis_midway: bool) -> dict[str, Any]:
    redis_port, http_port = free_port(), free_port()
    redis = start_redis_server(port=redis_port, data_dir=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")} | {
        "TICKER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TICKER_SOURCE": "sim",
        "TICKER_PORT": str(http_port),
        "TICKER_POLL_INTERVAL_S": str(poll_s),
        "TICKER_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "ticker", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{http_port}"
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - start, rss_kib(server.pid)))
            stop.wait(1.0)

    try:
        wait_http(base + "/healthz")
        wait_http(base + "/v1/stations/108")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        wrk = subprocess.Popen(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, base],
            stdout=subprocess.PIPE,
            text=True,
        )
        redis_stopped_at = None
        if stop_redis_midway:
            time.sleep(duration / 2)
            stop_redis_server(redis)
            redis_stopped_at = duration / 2
        out, _ = wrk.communicate(timeout=duration + 60)
        stop.set()
        sampler.join()
        Path(script.name).unlink()
        match = re.search(r"RESULT total=(\d+) s5xx=(\d+) other=(\d+) errors=(\d+) p99_ms=([\d.]+)", out)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if match is None or rps is None:
            raise SystemExit("wrk output not understood:\n" + out)
        warm = next((kib for t, kib in samples if t >= 10), samples[0][1])
        end = samples[-1][1]
        status, _ = _get(base + "/widget")
        return {
            "redis": "stopped midway" if redis_stopped_at else "up",
            "requests": int(match[1]),
            "rps": float(rps[1]),
            "5xx": int(match[2]),
            "non_200": int(match[3]),
            "socket_errors": int(match[4]),
            "p99_ms": float(match[5]),
            "rss_warm_mib": warm / 1024,
            "rss_end_mib": end / 1024,
            "rss_growth_pct": (end - warm) / warm * 100,
            "widget_after": status,
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.stderr:
            server.stderr.close()
        stop_redis_server(redis)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - 127.0.0.1
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""
    except OSError:
        return 0, b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--poll", type=float, default=3.0, help="poll interval, seconds")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    print(f"soak: {args.duration}s per run, {args.connections} connections, poll every {args.poll}s")
    header = f"{'redis':<15}{'requests':>10}{'req/s':>9}{'5xx':>6}{'non-200':>9}{'sock err':>9}{'p99 ms':>8}{'RSS warm':>10}{'RSS end':>9}{'growth':>8}"
    rows = []
    for midway in (False, True):
        rows.append(run(args.duration, args.connections, args.poll, midway))
    print(header)
    for r in rows:
        print(
            f"{r['redis']:<15}{r['requests']:>10}{r['rps']:>9.0f}{r['5xx']:>6}{r['non_200']:>9}"
            f"{r['socket_errors']:>9}{r['p99_ms']:>8.1f}{r['rss_warm_mib']:>9.1f}M{r['rss_end_mib']:>8.1f}M"
            f"{r['rss_growth_pct']:>7.1f}%"
        )
    ok = all(r["5xx"] == 0 and r["rss_growth_pct"] < 10 for r in rows)
    print("PASS" if ok else "FAIL", "(zero 5xx, RSS growth under 10% after warm-up)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
