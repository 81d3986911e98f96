"""Hostile requests against a running `ticker serve`: 10,000 random paths and query strings.

Starts a private redis-server and the service (sim source), sends every request raw over TCP
(invalid bytes included) and reports the status mix, any 5xx and any response that echoes the
request's unique token. Talks to 127.0.0.1 only; stops by itself.

    python bench/hostile.py [--count 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.hostile import run_hostile  # noqa: E402
from ticker.embedded import free_port, start_redis_server, stop_redis_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    redis_port, port = free_port(), free_port()
    redis = start_redis_server(port=redis_port, data_dir=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")} | {
        "TICKER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "TICKER_SOURCE": "sim",
        "TICKER_PORT": str(port),
        "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
        "TICKER_LOG_LEVEL": "WARNING",
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "ticker", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stations/108", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        started = time.monotonic()
        outcome = asyncio.run(run_hostile("127.0.0.1", port, args.count, seed=args.seed))
        took = time.monotonic() - started
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=15)
        stop_redis_server(redis)
    print(f"hostile: {outcome.total} requests in {took:.1f}s (seed {args.seed})")
    print("statuses:", dict(sorted(outcome.statuses.items())))
    print(
        f"5xx or no status: {len(outcome.server_errors)}; no answer: {outcome.no_answer}; "
        f"reflected input: {len(outcome.reflected)}"
    )
    for target in (outcome.server_errors + outcome.reflected)[:10]:
        print("  ", target[:120])
    log = err.decode(errors="replace").strip().splitlines()
    print(f"service log lines at WARNING and above: {len(log)}")
    ok = not outcome.server_errors and not outcome.reflected and outcome.no_answer == 0
    print("PASS" if ok else "FAIL", "(zero 5xx, zero reflected input)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
