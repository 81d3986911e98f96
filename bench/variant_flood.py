"""A flood of distinct valid widget variants next to a normal client, against `ticker serve`.

Starts a private redis-server and the service (sim source, one process), measures `/widget` on
16 connections alone, then the same while 16 other connections ask for a new variant each time
(`/widget?stations=<subset>&lang=…&theme=…&layout=…`), and reports throughput kept, p99 and the
renders the service counted. Needs `wrk`. Talks to 127.0.0.1 only; stops by itself.

    python bench/variant_flood.py [--seconds 30] [--renders-per-s 50]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.flood import run_flood  # noqa: E402
from tests.support.helpers import parse_widget  # noqa: E402
from ticker.embedded import free_port, start_redis_server, stop_redis_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--renders-per-s", type=float, default=20.0)
    args = parser.parse_args()
    redis_port, port = free_port(), free_port()
    redis = start_redis_server(port=redis_port, data_dir=None)
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")} | {
        "TICKER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TICKER_SOURCE": "sim",
        "TICKER_PORT": str(port),
        "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
        "TICKER_LOG_LEVEL": "WARNING",
        "TICKER_RENDERS_PER_S": str(args.renders_per_s),
    }
    service = subprocess.Popen([sys.executable, "-m", "ticker", "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        ids: list[int] = []
        while time.monotonic() < deadline and len(ids) < 2:
            try:
                with urllib.request.urlopen(base + "/widget", timeout=1) as resp:  # noqa: S310
                    ids = [int(s["id"]) for s in parse_widget(resp.read().decode()).stations]
            except OSError:
                pass
            time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            outcome = run_flood(base, Path(tmp), ids, seconds=args.seconds)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(15)
        stop_redis_server(redis)
    print(
        f"variant flood: {args.seconds:g}s, 16 + 16 connections, TICKER_RENDERS_PER_S={args.renders_per_s:g}"
    )
    for line in outcome.lines():
        print(line)
    ok = outcome.kept >= 0.25 and outcome.normal.p99_ms <= 20 and outcome.normal.non_2xx == 0
    print("PASS" if ok else "FAIL", "(normal client keeps >= 25 % with p99 <= 20 ms)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
