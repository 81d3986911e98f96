"""Benchmark the hot path against nginx serving the same bytes as a static file, and a naive app.

Starts a private Redis (filled by one sim poll), the ticker (`ticker serve --role web`, one
worker, uvloop when installed), an nginx with one worker process serving the ticker's own
`/widget` (plain, and its gzip copy through `gzip_static`) and `/v1/observations` bytes as
static files, and the naive baseline (Redis read and template render per request). Then runs
wrk against each in the same run and prints requests/s, p99 latency and the ratios.

    python bench/run.py [--duration 10] [--connections 64] [--rounds 3]

Needs Debian's `nginx` and `wrk` (`apt-get install -y nginx wrk`). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from ticker.config import Settings
from ticker.embedded import free_port, start_redis_server, stop_redis_server
from ticker.poll.poller import Poller
from ticker.poll.sources.sim import SimSource
from ticker.redis_client import connect
from ticker.stations import load_stations
from ticker.store import Store

HERE = Path(__file__).resolve().parent

NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port};
    root {tmp}/www;
    location = /widget {{ default_type "text/html; charset=utf-8"; gzip_static on; }}
    location = /v1/observations {{ default_type "application/json; charset=utf-8"; }}
  }}
}}
"""


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - 127.0.0.1 only
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - 127.0.0.1 only
    with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
        return resp.read(), resp.headers.get("ETag", "")


GZIP = {"Accept-Encoding": "gzip"}


def wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Requests/s and p99 latency in ms from one wrk run."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if etag:
        args += ["-H", f"If-None-Match: {etag}"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    done = subprocess.run([*args, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed on {url}: {done.stdout}{done.stderr}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"errors from {url}:\n{out}")
    return rps, p99


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, {loop}, {nginx}, load average {os.getloadavg()}"
    )


async def fill_redis(url: str) -> None:
    settings = Settings(_env_file=None)
    stations = load_stations(settings.stations_path())
    redis = connect(url)
    try:
        poller = Poller(
            stations=stations,
            source=SimSource(),
            store=Store(redis),
            clock=lambda: datetime.now(UTC),
            interval_s=60,
        )
        result = await poller.run_once()
        assert result.outcome == "ok", result
    finally:
        await redis.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes for the ticker and for nginx alike (the issue's comparison is 1 and 1)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"bench: '{tool}' is missing: apt-get install -y nginx wrk", file=sys.stderr)
            return 2

    tmp = Path(tempfile.mkdtemp(prefix="ticker-bench-"))
    tmp.chmod(0o755)
    procs: list[subprocess.Popen[bytes]] = []
    redis_port = free_port()
    redis = start_redis_server(port=redis_port, data_dir=None)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    try:
        asyncio.run(fill_redis(redis_url))
        env = {
            **os.environ,
            "TICKER_REDIS_URL": redis_url,
            "TICKER_SOURCE": "sim",
            "TICKER_LOG_LEVEL": "WARNING",
        }
        ticker_port, off_port, naive_port, nginx_port = free_port(), free_port(), free_port(), free_port()
        # The same service twice: with the fast path (the default) and with TICKER_FAST_PATH=off,
        # which serves through aiohttp's public API alone.
        for port, fast_path in ((ticker_port, "auto"), (off_port, "off")):
            serve = ["serve", "--role", "web", "--workers", str(args.workers), "--port", str(port)]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "ticker", *serve], env={**env, "TICKER_FAST_PATH": fast_path}
                )
            )
        procs.append(subprocess.Popen([sys.executable, str(HERE / "naive.py"), str(naive_port), redis_url]))
        ticker = f"http://127.0.0.1:{ticker_port}"
        ticker_off = f"http://127.0.0.1:{off_port}"
        naive = f"http://127.0.0.1:{naive_port}"
        wait_http(ticker + "/widget")
        wait_http(ticker_off + "/widget")
        wait_http(naive + "/widget")

        www = tmp / "www"
        (www / "v1").mkdir(parents=True)
        widget, ticker_etag = fetch(ticker + "/widget")
        widget_gz, _ = fetch(ticker + "/widget", GZIP)  # urllib does not decompress
        observations, _ = fetch(ticker + "/v1/observations")
        (www / "widget").write_bytes(widget)
        (www / "widget.gz").write_bytes(widget_gz)  # nginx's gzip_static sends these bytes
        (www / "v1" / "observations").write_bytes(observations)
        for d in (www, www / "v1"):
            d.chmod(0o755)
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=nginx_port, workers=args.workers))
        procs.append(subprocess.Popen(["nginx", "-c", str(conf), "-e", str(tmp / "error.log")]))
        nginx = f"http://127.0.0.1:{nginx_port}"
        wait_http(nginx + "/widget")
        bare_port = free_port()
        procs.append(
            subprocess.Popen([sys.executable, str(HERE / "bare.py"), str(bare_port), str(www / "widget")])
        )
        bare = f"http://127.0.0.1:{bare_port}"
        wait_http(bare + "/")
        _, nginx_etag = fetch(nginx + "/widget")
        assert fetch(ticker_off + "/widget")[0] == widget
        assert fetch(nginx + "/widget")[0] == widget
        assert fetch(nginx + "/widget", GZIP)[0] == widget_gz

        cases = [
            ("/widget 200", "/widget", None, None, None),
            ("/widget 200 gzip", "/widget", None, None, GZIP),
            ("/widget 304", "/widget", ticker_etag, nginx_etag, None),
            ("/v1/observations 200", "/v1/observations", None, None, None),
        ]
        print(f"machine: {machine()}")
        print(
            f"widget body {len(widget)} bytes ({len(widget_gz)} gzipped), "
            f"observations body {len(observations)} bytes; "
            f"wrk -t1 -c{args.connections} -d{args.duration}s, {args.rounds} alternating rounds, "
            f"{args.workers} process(es) each for the ticker and nginx"
        )
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        ratios: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for label, path, t_etag, n_etag, headers in cases:
                pair = {}
                for who, base, etag in (
                    ("ticker", ticker, t_etag),
                    ("ticker_off", ticker_off, t_etag),
                    ("nginx", nginx, n_etag),
                ):
                    pair[who] = wrk(
                        base + path,
                        duration=args.duration,
                        connections=args.connections,
                        etag=etag,
                        headers=headers,
                    )
                    runs.setdefault((label, who), []).append(pair[who])
                # The ratio is taken within a round: both servers measured back to back.
                ratios.setdefault(label, []).append(pair["ticker"][0] / pair["nginx"][0])
                ratios.setdefault(label + " off", []).append(pair["ticker_off"][0] / pair["nginx"][0])
            bare_rps = wrk(bare + "/widget", duration=args.duration, connections=args.connections)
            runs.setdefault(("/widget 200", "bare"), []).append(bare_rps)
            ratios.setdefault("bare", []).append(bare_rps[0] / runs[("/widget 200", "nginx")][-1][0])
            for label, path in (
                ("/widget 200", "/widget"),
                ("/v1/observations 200", "/v1/observations"),
            ):
                runs.setdefault((label, "naive"), []).append(
                    wrk(naive + path, duration=args.duration, connections=args.connections)
                )

        def med(label: str, who: str) -> tuple[float, float]:
            got = runs[(label, who)]
            return statistics.median(r[0] for r in got), statistics.median(r[1] for r in got)

        print()
        print(
            f"medians over {args.rounds} rounds; ticker/nginx is the median of per-round ratios "
            "(min-max in brackets)"
        )
        print(
            "| case | ticker req/s | ticker p99 ms | nginx req/s | nginx p99 ms | ticker/nginx "
            "| fast path off req/s | off p99 ms | off/nginx | naive req/s | naive p99 ms | ticker/naive |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, *_ in cases:
            t_rps, t_p99 = med(label, "ticker")
            n_rps, n_p99 = med(label, "nginx")
            r = ratios[label]
            ratio = f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"
            o_rps, o_p99 = med(label, "ticker_off")
            o = ratios[label + " off"]
            off = f"{o_rps:.0f} | {o_p99:.2f} | {statistics.median(o):.2f} ({min(o):.2f}-{max(o):.2f})"
            if (label, "naive") in runs:
                v_rps, v_p99 = med(label, "naive")
                nv = f"{v_rps:.0f} | {v_p99:.1f} | {t_rps / v_rps:.0f}x"
            else:
                nv = "- | - | -"
            print(
                f"| {label} | {t_rps:.0f} | {t_p99:.2f} | {n_rps:.0f} | {n_p99:.2f} | {ratio} | {off} | {nv} |"
            )
        b_rps, b_p99 = med("/widget 200", "bare")
        r = ratios["bare"]
        print(
            f"| reference: bare aiohttp web.Server, same bytes | {b_rps:.0f} | {b_p99:.2f} | | | "
            f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f}) | | | | | | |"
        )
        print(f"\nload average after the run: {os.getloadavg()}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_redis_server(redis)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
