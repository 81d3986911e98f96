"""`ticker doctor` against the fake API Hub: one line per API naming it and what to do; the key never shown."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, RedisServer
from ticker.models import Station
from ticker.poll.doctor import UPSTREAM_APIS
from ticker.testing.fake_upstream import FakeApiHub

KEY = "Doctor-Secret-Key_42"
# doctor's name -> the fake's endpoint
APIS = {
    "kma_sfctm2": "sfctm2",
    "ultra_ncst": "ultra_ncst",
    "wrn_now_data": "wrn_now",
    "aws_min": "aws_min",
    "ultra_fcst": "ultra_fcst",
}


@pytest.fixture
async def fake(stations: list[Station]) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY) as hub:
        yield hub


@pytest.fixture
def env(redis_server: RedisServer, fake: FakeApiHub, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_KMA_BASE_URL": fake.base_url,
        "TICKER_KMA_AUTH_KEY": KEY,
        "TICKER_KMA_TIMEOUT_S": "2",
        "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
        "TICKER_DATA_DIR": str(tmp_path / "data"),
    }


async def doctor(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, str], str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ticker", "doctor",
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    text = out.decode() + err.decode()
    assert KEY not in text and "authKey=" not in text
    assert "Traceback" not in text
    lines = {}
    for line in out.decode().splitlines():
        if not line.startswith(" ") and len(line.split()) > 2:
            verdict, name, detail = line.split(maxsplit=2)
            lines[name] = f"{verdict} {detail}"
    return proc.returncode, lines, text


def test_every_upstream_api_is_registered():
    assert [api.name for api in UPSTREAM_APIS] == list(APIS)


async def test_all_answer(env, fake, tmp_path):
    code, lines, text = await doctor(env, tmp_path)
    assert code == 0, text
    for name in ("stations", "settings", "source", "redis", *APIS):
        assert lines[name].startswith("ok "), (name, text)
    assert "answered" in lines["kma_sfctm2"]
    assert "TICKER_KMA_AUTH_KEY=(set)" in text  # the settings in effect, the key as set only
    assert f"TICKER_KMA_BASE_URL={fake.base_url}" in text


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("not_applied", "not applied for with this key: apply at https://apihub.kma.go.kr"),
        ("auth", "key rejected: check TICKER_KMA_AUTH_KEY"),
    ],
)
async def test_one_api_failing(env, fake, tmp_path, api, fault, says):
    fake.set_fault(endpoint=APIS[api], kind=fault)
    code, lines, text = await doctor(env, tmp_path)
    assert code == 1, text
    assert lines[api].startswith("FAIL ") and says in lines[api], text
    for other in APIS:
        if other != api:
            assert lines[other].startswith("ok "), (other, text)
    assert f"problem(s): {api}" in text


async def test_quota_maintenance_and_unreachable(env, fake, tmp_path, stations):
    fake.set_fault(endpoint="sfctm2", kind="quota")
    fake.set_fault(endpoint="ultra_ncst", kind="maintenance")
    code, lines, text = await doctor(env, tmp_path)
    assert code == 1
    assert "quota used up" in lines["kma_sfctm2"] and "maintenance" in lines["ultra_ncst"], text

    closed = env | {"TICKER_KMA_BASE_URL": "http://127.0.0.1:9", "TICKER_REDIS_URL": "redis://127.0.0.1:9/0"}
    code, lines, text = await doctor(closed, tmp_path)
    assert code == 1
    assert "unreachable" in lines["kma_sfctm2"] and "unreachable" in lines["ultra_ncst"], text
    assert lines["redis"].startswith("FAIL "), text


async def test_apis_not_used_are_not_asked_and_no_key_means_simulated(env, fake, tmp_path):
    fewer = env | {"TICKER_FALLBACK": "none", "TICKER_WORD_FEEDS": "aws_min"}
    code, lines, text = await doctor(fewer, tmp_path)
    assert code == 0, text
    assert lines["ultra_ncst"].startswith("skip ") and lines["ultra_fcst"].startswith("skip ")
    assert lines["aws_min"].startswith("ok ")
    asked = fake.stats()["requests"]
    assert asked.get("ultra_ncst", 0) == 0 and asked.get("ultra_fcst", 0) == 0

    keyless = {k: v for k, v in env.items() if k != "TICKER_KMA_AUTH_KEY"}
    code, lines, text = await doctor(keyless, tmp_path)
    assert code == 1 and lines["source"].startswith("FAIL ") and "simulated" in lines["source"]
    code, lines, text = await doctor(keyless | {"TICKER_SOURCE": "sim"}, tmp_path)
    assert code == 0, text
