"""ticker serve --workers N: N processes on one port, stopped together by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.helpers import wait_until
from tests.support.ports import free_port
from ticker.config import Settings
from ticker.errors import ConfigError
from ticker.workers import roles, serve_workers


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"multiprocessing.spawn" in cmdline:
            out.append(int(entry.name))
    return out


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - 127.0.0.1 only
            return int(resp.status)
    except OSError:
        return 0


def test_roles_give_one_poller_at_most() -> None:
    assert roles("all", 3) == ["all", "web", "web"]
    assert roles("web", 2) == ["web", "web"]
    assert roles("poller", 4) == ["poller"]


def test_workers_need_a_fixed_port(stations) -> None:
    settings = Settings(_env_file=None, port=0, workers=2)
    with pytest.raises(ConfigError):
        serve_workers(settings, stations)


def test_serve_with_two_workers_answers_and_stops_on_sigterm(redis_server, tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_SOURCE": "sim",
        "TICKER_DATA_DIR": str(tmp_path / "data"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ticker",
            "serve",
            "--role",
            "web",
            "--workers",
            "2",
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _get(f"http://127.0.0.1:{port}/healthz") == 200, timeout=30, what="healthz")
        wait_until(lambda: len(_children(proc.pid)) == 2, timeout=30, what="two workers")
        workers = _children(proc.pid)
        assert all(_get(f"http://127.0.0.1:{port}/widget") == 200 for _ in range(20))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        wait_until(
            lambda: not any(Path(f"/proc/{w}").exists() for w in workers),
            timeout=20,
            what="workers to exit",
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
