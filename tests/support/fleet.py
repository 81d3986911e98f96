"""Real processes for fault tests: a restartable redis-server and `ticker serve` replicas.

Everything listens on free ports of 127.0.0.1. Replicas log JSON to a file each, so a test can
read when each one became or stopped being the leader.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import redis as redis_sync

from tests.support.helpers import parse_widget, wait_until
from tests.support.ports import free_port
from ticker.embedded import start_redis_server, stop_redis_server

ROOT = Path(__file__).resolve().parents[2]


class RedisProcess:
    """A redis-server the test starts, stops, kills and restarts on the same port (in memory)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._client: redis_sync.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = start_redis_server(port=self.port, data_dir=None)

    def stop(self) -> None:
        if self.proc is not None:
            stop_redis_server(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        if self._client is not None:
            self._client.close()
            self._client = None

    def client(self) -> redis_sync.Redis:
        """A plain client for the test's own reads; closed by ``stop``."""
        if self._client is None:
            self._client = redis_sync.Redis(port=self.port, decode_responses=True, socket_timeout=2)
        return self._client


def get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    """(status, body); (0, the error's class name) when no complete answer came."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode(errors="replace")
    except urllib.error.URLError as err:
        return 0, type(err.reason).__name__
    except (OSError, http.client.HTTPException) as err:
        return 0, type(err).__name__


class Replica:
    """One `ticker serve` process with its own port, log file and environment."""

    def __init__(
        self,
        tmp: Path,
        name: str,
        redis_url: str,
        *,
        role: str = "all",
        interval_s: float = 1.0,
        lease_ttl_s: float = 3.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{name}.log"
        self.workdir = tmp / name
        self.workdir.mkdir()
        self.env = (
            {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
            | {
                "TICKER_REDIS_URL": redis_url,
                "TICKER_PORT": str(self.port),
                "TICKER_ROLE": role,
                "TICKER_SOURCE": "sim",
                "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
                "TICKER_POLL_INTERVAL_S": str(interval_s),
                "TICKER_POLL_JITTER_S": "0",
                "TICKER_LEASE_TTL_S": str(lease_ttl_s),
                "TICKER_LOG_FORMAT": "json",
                "TICKER_DATA_DIR": str(self.workdir / "data"),
            }
            | (env or {})
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Replica:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ticker", "serve"],
                env=self.env,
                cwd=self.workdir,  # no .env file here
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_until(
            lambda: get(self.base + "/healthz")[0] == 200,
            timeout=timeout,
            what=f"{self.name} to answer /healthz",
        )

    def widget_stations(self) -> int:
        status, body = get(self.base + "/widget")
        return len(parse_widget(body).stations) if status == 200 else -1

    def terminate(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds until the process was gone)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self) -> list[dict[str, str]]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def leadership(self, *, until: float) -> list[tuple[float, float]]:
        """(start, end) wall times this replica logged as leader; an open span ends at ``until``."""
        spans: list[tuple[float, float]] = []
        start: float | None = None
        for record in self.log():
            msg = record.get("msg", "")
            at = datetime.fromisoformat(record["ts"]).timestamp()
            if msg.startswith("leader: yes") and start is None:
                start = at
            elif msg.startswith("leader: no") and start is not None:
                spans.append((start, at))
                start = None
        if start is not None:
            spans.append((start, until))
        return spans


class Fleet:
    """Replicas sharing one Redis; stops every process it started."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.redis = RedisProcess()
        self.replicas: list[Replica] = []

    def __enter__(self) -> Fleet:
        self.redis.start()
        return self

    def add(self, name: str, **kwargs: object) -> Replica:
        replica = Replica(self.tmp, name, self.redis.url, **kwargs)  # type: ignore[arg-type]
        self.replicas.append(replica)
        return replica.start()

    def by_pid(self, pid: int) -> Replica:
        return next(r for r in self.replicas if r.pid == pid)

    def __exit__(self, *exc: object) -> None:
        for replica in self.replicas:
            replica.kill()
        self.redis.close()


@dataclass
class Cycle:
    started_at: float
    epoch: int | None
    outcome: str


def cycles(client: redis_sync.Redis) -> list[Cycle]:
    """The poll cycles recorded in Redis (the latest 20), oldest first."""
    out = []
    for raw in reversed(client.lrange("ticker:poller:cycles", 0, -1)):
        doc = json.loads(raw)
        out.append(Cycle(doc["started_at"], doc.get("epoch"), doc["outcome"]))
    return out


def report(capsys: pytest.CaptureFixture[str], *lines: str) -> None:
    """Print a fault test's figures to the terminal even when pytest captures output."""
    with capsys.disabled():
        print(*lines)


def lease_pid(client: redis_sync.Redis) -> int | None:
    """The pid in the lease holder's token (host:pid:random), if anyone holds it."""
    token = client.get("ticker:poller:lease")
    return int(str(token.decode() if isinstance(token, bytes) else token).split(":")[-2]) if token else None


@dataclass
class Traffic:
    """Steady GETs against some URLs from threads: (start time, status, body or error) each."""

    urls: list[str]
    every_s: float = 0.02
    threads: int = 1
    results: list[tuple[float, int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Traffic:
        for _ in range(self.threads):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            url = self.urls[i % len(self.urls)]
            i += 1
            started = time.time()
            status, body = get(url)
            self.results.append((started, status, body))
            self._stop.wait(self.every_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
