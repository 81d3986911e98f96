"""The KMA key and the Redis password never show: logs, metrics, pages, error bodies, Redis.

One `ticker serve` with a password-protected Redis and a key, driven through every upstream
fault the fake API Hub can produce, a Redis outage, `poll --once` and `check` (also with a
wrong password); then everything a person or a machine could read is searched for the secrets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import redis as redis_sync

from tests.conftest import ROOT
from tests.support.fleet import get
from tests.support.helpers import wait_until
from tests.support.ports import free_port
from ticker.embedded import start_redis_server, stop_redis_server
from ticker.testing.fake_upstream import FakeApiHub, running_in_thread

KEY = "Kma+Secret/Key=2025zz"
PASSWORD = "Redis-Pass_w0rd!zz"
WRONG_PASSWORD = "Wrong-Pass_w0rd!zz"
SECRETS = (KEY, PASSWORD, WRONG_PASSWORD)

SFCTM2_FAULTS = [
    ("auth", "auth"), ("not_applied", "forbidden"), ("quota", "quota"),
    ("forbidden_path", "forbidden"), ("maintenance", "maintenance"), ("status", "status"),
    ("truncate", "parse"), ("empty", "no_data"), ("garbage", "parse"), ("disconnect", "connection"),
]  # fmt: skip
NCST_FAULTS = ["gateway_auth", "gateway_quota", "gateway_json", "no_data", "maintenance"]


def _forms(secret: str) -> set[str]:
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}


def _assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        for form in _forms(secret):
            assert form not in text, f"a secret appears in {where}"


def test_secrets_never_show_on_any_error_path(tmp_path: Path, stations):
    redis_port = free_port()
    redis_proc = start_redis_server(port=redis_port, data_dir=None, extra=["--requirepass", PASSWORD])
    redis_url = f"redis://:{urllib.parse.quote(PASSWORD, safe='')}@127.0.0.1:{redis_port}/0"
    plain = redis_sync.Redis(port=redis_port, password=PASSWORD, decode_responses=True, socket_timeout=2)
    fake = FakeApiHub(stations=stations, auth_key=KEY)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with running_in_thread(fake) as fake_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKER_")} | {
            "TICKER_REDIS_URL": redis_url,
            "TICKER_KMA_AUTH_KEY": KEY,
            "TICKER_KMA_BASE_URL": fake_url,
            "TICKER_PORT": str(port),
            "TICKER_POLL_INTERVAL_S": "0.5",
            "TICKER_POLL_TIMING": "interval",  # every cycle asks: each fault shows within a cycle
            "TICKER_POLL_JITTER_S": "0",
            "TICKER_KMA_TIMEOUT_S": "0.5",
            "TICKER_KMA_RETRIES": "0",
            "TICKER_LOG_LEVEL": "DEBUG",
            "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
        }
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ticker", "serve"],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        seen: list[tuple[str, str]] = []
        try:
            wait_until(
                lambda: (
                    get(base + "/v1/stations/108")[0] == 200
                    and json.loads(get(base + "/v1/stations/108")[1])["temperature_c"] is not None
                ),
                timeout=30,
                what="first data",
            )

            def source_state() -> dict[str, str]:
                return {str(k): str(v) for k, v in plain.hgetall("ticker:source:kma_apihub").items()}

            def recovered() -> bool:
                state = source_state()
                return float(state.get("last_success", 0)) > float(state.get("last_error_at", 0))

            for kind, error_kind in SFCTM2_FAULTS:
                before = int(source_state().get(f"errors:{error_kind}", 0))
                fake.set_fault(kind=kind)

                def counted(ek: str = error_kind, b: int = before) -> bool:
                    return int(source_state().get(f"errors:{ek}", 0)) > b

                wait_until(
                    counted,
                    timeout=20,
                    what=f"the {kind} fault to be recorded",
                )
                seen.append((kind, source_state().get("last_error", "")))
                # One good cycle between faults keeps the circuit closed and the test quick.
                fake.clear_faults()
                wait_until(recovered, timeout=20, what=f"recovery after {kind}")
                for path in ("/v1/freshness", "/status", "/metrics", "/readyz"):
                    seen.append((path, get(base + path)[1]))
            fake.set_fault(kind="none", latency_s=2)
            wait_until(lambda: int(source_state().get("errors:timeout", 0)) > 0, timeout=20, what="a timeout")
            fake.clear_faults()
            wait_until(recovered, timeout=20, what="recovery after the timeout")
            # The fallback endpoint's own error answers, while the main one lacks all but one station.
            for kind in NCST_FAULTS:
                fake.set_fault(kind="none", missing=[s.id for s in stations if s.id != 108])
                fake.set_fault(endpoint="ultra_ncst", kind=kind)
                before = fake.stats()["requests"]["ultra_ncst"]

                def asked_twice(b: int = before) -> bool:
                    return bool(fake.stats()["requests"]["ultra_ncst"] >= b + 2)

                wait_until(
                    asked_twice,
                    timeout=20,
                    what=f"fallback requests answered with {kind}",
                )
            fake.clear_faults()

            # Redis goes away and comes back, password and all.
            stop_redis_server(redis_proc)
            for path in ("/widget", "/v1/observations", "/readyz", "/status", "/metrics"):
                seen.append((f"{path} without Redis", get(base + path)[1]))
            redis_proc = start_redis_server(port=redis_port, data_dir=None, extra=["--requirepass", PASSWORD])
            plain.close()
            plain = redis_sync.Redis(
                port=redis_port, password=PASSWORD, decode_responses=True, socket_timeout=2
            )
            wait_until(lambda: plain.hlen("ticker:obs") > 0, timeout=30, what="data back in Redis")

            for path in ("/nope", "/widget?lang=xx", "/v1/stations/999", "/widget/frame?theme=neon"):
                seen.append((path, get(base + path)[1]))
            wrong_url = redis_url.replace(
                urllib.parse.quote(PASSWORD, safe=""), urllib.parse.quote(WRONG_PASSWORD, safe="")
            )
            for args, url, fails in (
                (["poll", "--once"], redis_url, True),  # the key is rejected (auth fault)
                (["check"], redis_url, True),  # a warning: the upstream rejects the key
                (["check"], wrong_url, True),  # Redis refuses the password
            ):
                fake.set_fault(kind="auth")
                out = subprocess.run(
                    [sys.executable, "-m", "ticker", *args],
                    env=env | {"TICKER_REDIS_URL": url},
                    cwd=tmp_path,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                seen.append((f"ticker {' '.join(args)}", out.stdout + out.stderr))
                assert (out.returncode != 0) is fails, out
        finally:
            proc.terminate()
            proc.wait(15)
            fake.clear_faults()
    keys = plain.keys("*")
    for key in plain.keys("*"):
        kind = str(plain.type(key))
        value: object = (
            plain.get(key)
            if kind == "string"
            else plain.hgetall(key)
            if kind == "hash"
            else plain.lrange(key, 0, -1)
            if kind == "list"
            else ""
        )
        seen.append((f"redis {key!r}", json.dumps(value, ensure_ascii=False, default=str)))
    plain.close()
    stop_redis_server(redis_proc)
    log_text = log_path.read_text(errors="replace")
    # The log did record the failures (so there was something to leak) ...
    for word in ("auth", "quota", "maintenance", "timeout"):
        assert word in log_text
    seen.append(("service log", log_text))
    assert len(seen) > 40 and keys
    # ... and nothing anyone can read carries a secret.
    for where, text in seen:
        _assert_clean(where, text)
