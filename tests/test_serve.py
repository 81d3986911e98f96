"""`ticker serve` as a user runs it: embedded Redis, sim source, restart with the last data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.helpers import parse_widget, wait_until
from tests.support.ports import free_port

STATION_ORDER = [98, 105, 108, 133, 143, 152, 156, 159, 172, 184, 201, 226, 238, 259, 283, 294]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


class Service:
    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = (
            {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")}
            | {
                "TICKER_DATA_DIR": str(tmp / "data"),
                "TICKER_PORT": str(self.port),
            }
            | (env or {})
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ticker", "serve", *args],
            env=env,
            cwd=tmp,  # no stations.yaml here: the packaged copy is used
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.started = time.monotonic()

    def widget_lines(self) -> list[str]:
        status, body = _get(self.base + "/widget")
        return parse_widget(body).lines() if status == 200 else []

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=15)
        return self.proc.returncode, out.decode()


def test_fresh_start_shows_all_stations_then_restart_serves_the_last_data(tmp_path: Path):
    first = Service(tmp_path)
    try:
        wait_until(lambda: len(first.widget_lines()) == 16, timeout=10, what="16 stations in the widget")
        ready_s = time.monotonic() - first.started
        print(f"\nwidget complete {ready_s:.2f}s after `ticker serve` started")
        _status, body = _get(first.base + "/widget")
        page = parse_widget(body)
        assert [int(s["id"]) for s in page.stations] == STATION_ORDER
        # No key and no TICKER_SOURCE: simulated weather, and every surface says so.
        assert page.attribution.strip() == "모의 데이터 · 실제 날씨 아님"
        assert len(page.date.strip()) == len("2025.07.28 (월)")
        for line in page.lines():
            *_word, name, temp = line.split(" ")
            assert temp.endswith("℃") and name
        _, doc = _get(first.base + "/v1/observations")
        before = json.loads(doc)["stations"]
        assert [s["id"] for s in before] == STATION_ORDER
        assert json.loads(doc)["attribution"] == "모의 데이터 · 실제 날씨 아님"
        _, en = _get(first.base + "/widget/frame?lang=en")
        assert "Simulated data · not real weather" in en and "Source: KMA" not in en
        _, status_page = _get(first.base + "/status")
        assert "simulated data · not real weather" in status_page
        # Never ready behind a load balancer unless simulated weather was chosen on purpose.
        status, ready = _get(first.base + "/readyz")
        assert status == 503 and "TICKER_SOURCE=sim" in json.loads(ready)["failing"]["source"]
    finally:
        code, out = first.stop()
    assert code == 0, out
    assert "source sim - simulated data, not real weather" in out
    assert not (tmp_path / "data" / "redis.port").exists()  # the embedded Redis went down with it

    # Web role only: nothing polls, so whatever shows comes from the persisted Redis.
    second = Service(tmp_path, "--role", "web", env={"TICKER_SOURCE": "sim"})
    try:
        wait_until(lambda: _get(second.base + "/healthz")[0] == 200, timeout=10, what="the restart")
        _, doc = _get(second.base + "/v1/observations")
        after = json.loads(doc)["stations"]
        assert [(s["id"], s["observed_at"], s["temperature_c"]) for s in after] == [
            (s["id"], s["observed_at"], s["temperature_c"]) for s in before
        ]
        assert len(second.widget_lines()) == 16
        assert _get(second.base + "/readyz?check=source")[0] == 200  # sim chosen explicitly
    finally:
        code, out = second.stop()
    assert code == 0, out


def test_with_the_fast_path_off_the_front_answers_and_sigterm_still_stops_cleanly(tmp_path: Path):
    """``TICKER_FAST_PATH=off`` as a user sets it: the public front serves the widget over
    kept-alive connections, and a connection still open on it does not hold up the shutdown."""
    import http.client

    service = Service(tmp_path, env={"TICKER_FAST_PATH": "off", "TICKER_SOURCE": "sim"})
    try:
        wait_until(lambda: len(service.widget_lines()) == 16, timeout=10, what="16 stations in the widget")
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
        bodies = set()
        for _ in range(3):
            conn.request("GET", "/widget")
            resp = conn.getresponse()
            assert resp.status == 200 and resp.getheader("ETag")
            bodies.add(resp.read())
        assert len(bodies) == 1
        _, metrics = _get(service.base + "/metrics")
        counted = next(
            line
            for line in metrics.splitlines()
            if line.startswith('ticker_http_requests_total{route="/widget",status="200"}')
        )
        assert float(counted.rsplit(" ", 1)[1]) >= 4  # the three on the front and the wait's own
        started = time.monotonic()
        code, out = service.stop()  # the kept-alive connection is still open
        assert time.monotonic() - started < 10
        conn.close()
    finally:
        if service.proc.poll() is None:
            service.stop()
    assert code == 0, out
    assert "hot GETs answered by the public front" in out
    assert "Traceback" not in out
