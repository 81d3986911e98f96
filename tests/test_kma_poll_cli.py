"""``ticker poll --once`` and ``ticker serve`` as a user runs them, against the fake API Hub.

Every upstream fault must leave the stored observations and the widget as they were, make
``poll --once`` exit non-zero with one line saying why, and never print the key.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ROOT, RedisServer
from tests.support.helpers import parse_widget, wait_for
from tests.support.ports import free_port
from tests.support.warnings_support import SEOUL_HEAT_WARNING
from ticker.models import Station
from ticker.poll.poller import Poller
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.kma_apihub import KmaApiHubSource
from ticker.poll.sources.kma_warnings import KmaWarningsSource
from ticker.poll.warnings import WarningsPoller
from ticker.store import Snapshot, Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.web.render import render_widget
from ticker.web.view import build_view

KEY = "Sekret-Hub-Key_0123"


@pytest.fixture
async def fake(stations: list[Station]) -> AsyncIterator[FakeApiHub]:
    # The real clock: the CLI judges freshness by the time it runs at.
    async with FakeApiHub(stations=stations, auth_key=KEY) as hub:
        yield hub


@pytest.fixture
def env(redis_server: RedisServer, fake: FakeApiHub, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TICKER_REDIS_URL": redis_server.url,
        "TICKER_SOURCE": "kma_apihub",
        "TICKER_KMA_BASE_URL": fake.base_url,
        "TICKER_KMA_AUTH_KEY": KEY,
        "TICKER_KMA_TIMEOUT_S": "1",
        "TICKER_KMA_RETRIES": "0",
        "TICKER_STATIONS_FILE": str(ROOT / "stations.yaml"),
        "TICKER_DATA_DIR": str(tmp_path / "data"),
    }


async def ticker(env: dict[str, str], *args: str, cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ticker", *args,
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def column_starts(line: str) -> list[int]:
    """The display column where each space-separated cell of a line starts."""
    from ticker.commands import display_width

    starts, at, before = [], 0, " "
    for char in line:
        if before == " " and char != " ":
            starts.append(at)
        at += display_width(char)
        before = char
    return starts


async def baseline(stations: list[Station], store: Store, fake: FakeApiHub) -> Snapshot:
    """Good data stored the way the service stores it, before a fault is tried."""
    async with aiohttp.ClientSession() as http:
        source = KmaApiHubSource(session=http, auth_key=KEY, base_url=fake.base_url, retry=NO_RETRY)
        poller = Poller(
            stations=stations,
            source=source,
            store=store,
            clock=lambda: datetime.now(UTC),
            interval_s=300,
        )
        assert (await poller.run_once()).outcome == "ok"
        warnings = WarningsPoller(
            stations=stations,
            source=KmaWarningsSource(session=http, auth_key=KEY, base_url=fake.base_url, retry=NO_RETRY),
            store=store,
            clock=lambda: datetime.now(UTC),
            max_age_s=1800,
        )
        assert (await warnings.run_once()).outcome == "ok"  # the service polls both feeds
    return await store.load_snapshot()


def widget(stations: list[Station], snap: Snapshot, at: datetime) -> str:
    return render_widget(
        build_view(stations, snap.observations, at, version=snap.version, hard_max_age_s=21600)
    )


async def test_poll_once_shows_what_the_rows_say(env, fake, stations, store, tmp_path):
    fake.set_fault(values={
        98: {"TA": "-9.0", "WC": "71"},
        105: {"TA": "0.4", "RN": "1.5", "CA_TOT": "10"},
        108: {"TA": "32.7", "CA_TOT": "0", "RN": "-9.0"},
        133: {"TA": "-99.0"},
        143: {"TA": "25.0", "CA_TOT": "-9", "RN": "-9.0"},
        152: {"WC": "95", "CA_TOT": "0"},
        156: {"TA": "-0.0", "CA_TOT": "5", "RN": "-9.0"},
    }, duplicates=[108], future=[159])  # fmt: skip
    # Rows not set here follow the sim's weather at the time of the run; the ones asserted on a
    # cloud word say "no rain" (RN -9.0) so that the sim raining somewhere cannot change them.
    env["TICKER_FALLBACK"] = "none"
    env["TICKER_WORD_FEEDS"] = "none"  # the words the rows alone support
    code, out, err = await ticker(env, "poll", "--once", cwd=tmp_path)
    lines = {int(line.split()[0]): line.split() for line in out.splitlines() if line[:4].strip().isdigit()}
    assert lines[98][5:] == ["눈", "-9.0℃"]
    assert lines[105][5:] == ["흐림", "0.4℃"]  # an hourly RN alone is no precipitation now
    assert lines[108][5:] == ["맑음", "32.7℃"]  # not the older duplicate row's -12.3
    assert lines[133][2:] == ["missing", "-", "-", "-"]  # -99.0 is no temperature
    assert lines[143][5:] == ["-", "25.0℃"]  # nothing supports a word
    assert lines[152][5:] == ["뇌우", f"{float(fake.last_rows[152]['TA']):.1f}℃"]
    assert lines[156][5:] == ["구름조금", "0.0℃"]
    assert lines[159][-1] == f"{float(fake.last_rows[159]['TA']):.1f}℃"  # not the future row's 45.5
    assert "-99" not in out and "45.5" not in out
    # Columns line up on a terminal: each starts at the same display column (Hangul is two wide).
    table = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    # (A line with no time has one cell fewer: the time is "07-28 15:00", two words.)
    # The id is right-aligned: the columns after it are compared.
    fullest = max((column_starts(line)[1:] for line in table), key=len)
    assert {start for line in table for start in column_starts(line)[1:]} == set(fullest), table
    assert code == 1  # 133 has no usable row
    assert err.strip().splitlines()[-1] == "poll incomplete: 1 of 16 stations not fresh: 대전(missing)"
    snap = await store.load_snapshot()
    assert snap.observations[98].temperature_c == -9.0
    assert 133 not in snap.observations
    assert KEY not in out + err


async def test_poll_once_keeps_one_budget_when_backfill_and_fallback_hang(env, fake, store, tmp_path):
    budget = 3.0
    env |= {
        "TICKER_FALLBACK": "ultra_ncst",
        "TICKER_KMA_CYCLE_BUDGET_S": str(budget),
        "TICKER_KMA_TIMEOUT_S": "60",
    }
    # The same run with nothing hanging: what start-up and the summary cost on this machine.
    started = time.monotonic()
    assert (await ticker(env, "poll", "--once", cwd=tmp_path))[0] == 0
    healthy = time.monotonic() - started
    # The primary answers at once without station 108; asking for the hour before (the backfill)
    # and the fallback for 108 hang far longer than any per-request timeout would allow.
    fake.set_fault(missing=[108], past_hour_latency_s=90)
    fake.set_fault(endpoint="ultra_ncst", latency_s=90)
    started = time.monotonic()
    code, out, err = await ticker(env, "poll", "--once", cwd=tmp_path)
    took = time.monotonic() - started
    cycle = (await store.load_cycles())[0]
    print(f"poll --once with backfill and fallback hanging: {took:.2f}s, cycle {cycle['duration_s']:.2f}s "
          f"(budget {budget:g}s; {healthy:.2f}s without faults)")  # fmt: skip
    # Then the weather word's feeds, if configured, find the budget spent: reported too.
    assert cycle["unfinished"][:2] == ["kma_apihub backfill", "fallback ultra_ncst"]
    assert all(what.startswith("word feed ") for what in cycle["unfinished"][2:])
    assert cycle["duration_s"] <= budget + 0.5
    assert took - healthy <= budget + 2, (took, healthy)
    assert code == 0  # 108 is still fresh from the run before: nothing is shown wrong
    assert "not finished within the cycle budget of 3s: kma_apihub backfill, fallback ultra_ncst" in err
    lines = {int(line.split()[0]): line.split() for line in out.splitlines() if line[:4].strip().isdigit()}
    assert lines[98][2] == "fresh"  # what arrived in time is kept


# (how to break it, the kind poll --once must name)
FAULTS = [
    ({"kind": "auth"}, "auth"),
    ({"kind": "not_applied"}, "forbidden"),
    ({"kind": "quota"}, "quota"),
    ({"kind": "forbidden_path"}, "forbidden"),
    ({"kind": "maintenance"}, "maintenance"),
    ({"kind": "maintenance", "status": 200}, "maintenance"),
    ({"kind": "status", "status": 502}, "status"),
    ({"kind": "truncate"}, "parse"),
    ({"kind": "garbage"}, "parse"),
    ({"kind": "empty"}, "no_data"),
    ({"kind": "disconnect"}, "connection"),
    ({"latency_s": 600}, "timeout"),
    ("wrong-key", "auth"),
    ("nobody-listening", "connection"),
]


@pytest.mark.parametrize(("fault", "kind"), FAULTS, ids=[f"{k}-{i}" for i, (_, k) in enumerate(FAULTS)])
async def test_a_fault_changes_nothing_stored_and_says_why_in_one_line(
    env, fake, stations, store, tmp_path, fault, kind
):
    before = await baseline(stations, store, fake)
    at = datetime.now(UTC)
    shown = widget(stations, before, at)
    if fault == "wrong-key":
        env["TICKER_KMA_AUTH_KEY"] = "Another-Key-4567"
    elif fault == "nobody-listening":
        env["TICKER_KMA_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    else:
        fake.set_fault(**fault)

    code, out, err = await ticker(env, "poll", "--once", cwd=tmp_path)

    assert code == 1
    why = [line for line in err.splitlines() if line.startswith("poll failed")]
    assert len(why) == 1 and err.strip().splitlines()[-1] == why[0]
    assert why[0].startswith(f"poll failed: kma_apihub {kind}: "), why[0]
    for secret in (KEY, "Another-Key-4567"):
        assert secret not in out and secret not in err
    after = await store.load_snapshot()
    assert after.version == before.version
    assert after.observations == before.observations
    assert widget(stations, after, at) == shown
    state = await store.load_source("kma_apihub")
    assert state["last_error_kind"] == kind and state[f"errors:{kind}"] == "1"
    assert KEY not in json.dumps(state) and KEY not in json.dumps(await store.load_cycles())


async def test_check_names_a_failing_upstream_until_it_answers_again(env, fake, stations, store, tmp_path):
    await baseline(stations, store, fake)
    code, out, _ = await ticker(env, "check", cwd=tmp_path)
    assert (code, out.strip()) == (0, "OK - 16 of 16 stations fresh")
    fake.set_fault(kind="quota")
    assert (await ticker(env, "poll", "--once", cwd=tmp_path))[0] == 1
    code, out, _ = await ticker(env, "check", cwd=tmp_path)
    assert code == 1  # the data is still fresh: a warning, so ops hear of it before readers do
    assert out.startswith("WARNING - 16 of 16 stations fresh; kma_apihub failing, last at ")
    assert out.strip().endswith("KST (quota: quota exceeded (HTTP 403: API 호출 한도를 초과했습니다.))")
    assert len(out.strip().splitlines()) == 1 and KEY not in out
    fake.clear_faults()
    assert (await ticker(env, "poll", "--once", cwd=tmp_path))[0] == 0
    code, out, _ = await ticker(env, "check", cwd=tmp_path)
    assert (code, out.strip()) == (0, "OK - 16 of 16 stations fresh")


async def test_no_key_is_a_configuration_error(env, store, tmp_path):
    del env["TICKER_KMA_AUTH_KEY"]
    code, _, err = await ticker(env, "poll", "--once", cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines()[-1] == "ticker: TICKER_SOURCE=kma_apihub needs TICKER_KMA_AUTH_KEY"


async def test_the_running_service_shows_the_rows_and_marks_fallback_values(
    env, fake, stations, store, tmp_path
):
    fake.set_fault(
        values={
            98: {"TA": "-9.0", "WC": "71"},
            108: {"TA": "32.7", "CA_TOT": "0", "RN": "-9.0"},
            133: {"TA": "-99.0"},
        }
    )
    fake.set_fault(endpoint="ultra_ncst", values={133: {"T1H": "17.4", "PTY": "1"}})
    fake.set_fault(endpoint="aws_min", values={108: {"RN-15m": 0.0}})  # dry now, whatever the sim says
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ticker", "serve", "--port", str(port),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    doc: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:

            async def polled() -> bool:
                try:
                    async with http.get("/v1/observations") as resp:
                        doc.update(json.loads(await resp.text()))
                except aiohttp.ClientError:
                    return False
                return all(s["temperature_c"] is not None for s in doc["stations"])

            await wait_for(polled, timeout=30, what="the service to poll the fake Hub")
            async with http.get("/widget") as resp:
                page = parse_widget(await resp.text())
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, err = await proc.communicate()
    by_id = {s["id"]: s for s in doc["stations"]}
    assert (by_id[98]["temperature_c"], by_id[98]["condition_label"], by_id[98]["source"]) == (
        -9.0,
        "눈",
        "kma_apihub",
    )
    assert (by_id[108]["temperature_c"], by_id[108]["condition"]) == (32.7, "clear")
    assert (by_id[133]["temperature_c"], by_id[133]["condition"], by_id[133]["source"]) == (
        17.4,
        "rain",
        "ultra_ncst",
    )
    for sid, served in fake.last_rows.items():
        if sid != 133:
            assert by_id[sid]["temperature_c"] == float(served["TA"])
    lines = page.lines()
    assert "눈 동두천 -9.0℃" in lines and "맑음 서울 32.7℃" in lines and "비 대전 17.4℃" in lines
    marked = [s["id"] for s in page.stations if "kt-alt" in s["class"].split()]
    assert marked == ["133"]
    assert "-99" not in json.dumps(doc) and KEY not in err.decode()


async def test_poll_once_polls_the_warnings_too(env, fake, store, tmp_path):
    """One run checks both feeds the strip shows: the table and the warnings, each named."""
    fake.set_warnings([SEOUL_HEAT_WARNING])
    code, out, err = await ticker(env, "poll", "--once", cwd=tmp_path)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-2:] == ["warnings: 서울 폭염경보", "poll ok: 16 stations fresh from kma_apihub (16 new)"]
    assert [(w.kind, w.level) for w in (await store.load_snapshot()).warnings] == [("폭염", "경보")]
    # The warnings API not applied for: the observations are still written, the run says why.
    fake.set_fault(endpoint="wrn_now", kind="not_applied")
    code, out, err = await ticker(env, "poll", "--once", cwd=tmp_path)
    assert code == 1
    assert "warnings: -" in out.splitlines() and "poll ok" not in out
    (why,) = [line for line in err.splitlines() if line.startswith("warnings failed: ")]
    assert why.startswith("warnings failed: kma_warnings forbidden: apply for ") and "wrn_now_data.php" in why
    assert KEY not in out + err
    assert (await store.load_snapshot()).warnings != ()  # the last good list is kept
