"""`ticker serve` refuses a bad setting or environment in one line, exit 2, before it starts anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


CASES = [
    # (case, environment, the setting the line names)
    ("port in use", {"TICKER_PORT": "{taken}"}, "TICKER_PORT"),
    ("port in use, workers", {"TICKER_PORT": "{taken}", "TICKER_WORKERS": "2"}, "TICKER_PORT"),
    ("unresolvable host", {"TICKER_HOST": "999.1.1.1"}, "TICKER_HOST"),
    ("host not of this machine", {"TICKER_HOST": "192.0.2.1"}, "TICKER_HOST"),
    ("base URL not a URL", {"TICKER_KMA_BASE_URL": "notaurl"}, "TICKER_KMA_BASE_URL"),
    ("fallback URL not http", {"TICKER_FALLBACK_URL": "ftp://x"}, "TICKER_FALLBACK_URL"),
    ("Redis URL scheme", {"TICKER_REDIS_URL": "mysql://u:pw@db/0"}, "TICKER_REDIS_URL"),
    ("Redis URL port", {"TICKER_REDIS_URL": "redis://:pw@host:notaport/0"}, "TICKER_REDIS_URL"),
    ("no key for the Hub", {"TICKER_SOURCE": "kma_apihub"}, "TICKER_KMA_AUTH_KEY"),
    ("frame ancestors", {"TICKER_FRAME_ANCESTORS": "javascript:alert(1)"}, "TICKER_FRAME_ANCESTORS"),
    ("port out of range", {"TICKER_PORT": "70000"}, "TICKER_PORT"),
]


@pytest.mark.parametrize(("env", "setting"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_line_naming_the_setting_exit_2_nothing_started(tmp_path: Path, taken_port, env, setting):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
    environ |= {"TICKER_DATA_DIR": str(tmp_path / "data")}
    environ |= {k: v.format(taken=taken_port) for k, v in env.items()}
    done = subprocess.run(
        [sys.executable, "-m", "ticker", "serve"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("ticker: ") and setting in lines[0], out
    for never in ("Traceback", "on http://", "Unclosed", "pw@"):
        assert never not in out
    # Nothing half-started: the embedded Redis never wrote its data directory.
    assert not (tmp_path / "data").exists()
