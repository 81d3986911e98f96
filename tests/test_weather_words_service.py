"""Weather words through the running service against the fake API Hub: each feed, its provenance,
its failures on its own, the call budget over a driven day and how soon a new hour shows.

The service runs as ``ticker serve`` builds it (``create_app`` with the KMA source, the word feeds
and the publication timing) on the real Redis; the fake Hub and the service share a FixedClock.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tests.conftest import FixedClock
from tests.support.helpers import wait_for
from tests.support.ops_support import has_cycle, sample
from ticker.app import create_app
from ticker.commands import check
from ticker.config import Settings
from ticker.models import KST, Station
from ticker.poll.poller import Poller
from ticker.poll.sources import build_source
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.web import keys

KEY = "Hub-Key-For-Words-0012"
UNMANNED = (98, 105, 172, 201, 226, 238, 259, 283, 294)
NO_WORD_ROW = {"WC": "-9", "RN": "-9.0", "CA_TOT": "-9"}  # an unmanned station's hourly row


@pytest.fixture
def winter() -> FixedClock:
    # 2026-01-15 09:05 KST.
    return FixedClock(datetime(2026, 1, 15, 0, 5, tzinfo=UTC))


@pytest.fixture
async def hub(stations: list[Station], winter: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=winter) as fake:
        yield fake


@pytest.fixture
def hub_settings(settings: Settings, hub: FakeApiHub) -> Settings:
    return settings.model_copy(
        update={
            "source": "kma_apihub",
            "kma_auth_key": SecretStr(KEY),
            "kma_base_url": hub.base_url,
            "kma_timeout_s": 1.0,
            "kma_retries": 0,
        }
    )


async def serve(
    aiohttp_client: Any, settings: Settings, stations: list[Station], store: Store, clock: FixedClock
):
    app = create_app(
        settings, stations=stations, redis=store.redis, clock=clock, registry=CollectorRegistry()
    )
    client = await aiohttp_client(app)
    await wait_for(lambda: has_cycle(store), what="the scheduler's first cycle")
    await app[keys.LIVE].refresh(store)
    return client


async def observations(client: Any) -> dict[int, dict[str, Any]]:
    doc = json.loads(await (await client.get("/v1/observations")).text())
    return {s["id"]: s for s in doc["stations"]}


def word(doc: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    at = doc["condition_at"]
    return doc["condition_label"], doc["condition_source"], at[11:16] if at else None


async def test_each_feed_decides_its_words_with_provenance(
    aiohttp_client, hub, hub_settings, stations, store, winter
):
    hub.set_fault(values={
        108: {"WC": "91", "TA": "8.0", "CA_TOT": "10", "RN": "2.0"},  # thunder before, rain now
        133: {"WC": "22", "RN": "3.0", "TA": "-0.3", "CA_TOT": "7"},  # snow ended, winter 3-hour RN
        **{sid: {**NO_WORD_ROW, "TA": "-2.5"} for sid in (98, 105, 172, 201)},
    })  # fmt: skip
    hub.set_fault(endpoint="aws_min", missing=[105, 201], values={
        98: {"RE": -99.9, "RN-15m": 0.5, "TA": -2.0},  # the detector unknown (as in 2026), 15-min rain
        133: {"RN-15m": 0.0}, 108: {"RN-15m": 0.0}, 172: {"RN-15m": 0.0},
    })  # fmt: skip
    hub.set_fault(endpoint="ultra_ncst", values={105: {"PTY": "1"}, 201: {"PTY": "0"}})
    hub.set_fault(endpoint="ultra_fcst", missing=[201], values={172: {"SKY": "3"}})
    client = await serve(aiohttp_client, hub_settings, stations, store, winter)
    by_id = await observations(client)

    assert word(by_id[108]) == ("비", "observed", "09:00")
    assert word(by_id[133]) == ("구름많음", "observed", "09:00")
    assert word(by_id[98]) == ("눈", "sensor", "09:03")  # the minute asked: now - 2 min
    assert word(by_id[105]) == ("비", "analysis", "08:00")  # the 08:00 nowcast is out at 09:05
    assert word(by_id[172]) == ("구름많음", "forecast", "08:30")
    assert word(by_id[201]) == (None, None, None)  # nothing known: no word
    for sid in (98, 105, 172, 201):
        assert by_id[sid]["temperature_c"] == -2.5
    one = json.loads(await (await client.get("/v1/stations/172")).text())
    assert (one["condition_source"], one["condition_at"]) == ("forecast", "2026-01-15T08:30:00+09:00")

    html = await (await client.get("/widget")).text()
    forecast = re.search(r'data-station="172".*?</li>', html, re.S)
    assert forecast is not None
    assert 'title="예보 기준 08:30"' in forecast.group(0)
    # Screen readers hear the mark: "구름많음(예보 기준)".
    assert '구름많음<span class="kt-sr">(예보 기준)</span>' in forecast.group(0)
    observed = re.search(r'data-station="108".*?</li>', html, re.S)
    assert observed is not None and "예보" not in observed.group(0)

    status = await (await client.get("/status")).text()
    sources = dict(re.findall(r'data-station="(\d+)".*?data-word-source="(\w*)"', status, re.S))
    assert {k: sources[str(k)] for k in (108, 98, 105, 172, 201)} == {
        108: "observed", 98: "sensor", 105: "analysis", 172: "forecast", 201: "",
    }  # fmt: skip


async def test_minute_data_not_applied_blocks_nothing_else(
    aiohttp_client, hub, hub_settings, stations, store, winter, capsys
):
    hub.set_fault(values={108: {"WC": "61", "TA": "3.1"}, 98: {**NO_WORD_ROW, "TA": "-4.0"}})
    hub.set_fault(endpoint="aws_min", kind="not_applied")
    hub.set_fault(endpoint="ultra_ncst", values={98: {"PTY": "3"}})
    client = await serve(aiohttp_client, hub_settings, stations, store, winter)
    by_id = await observations(client)

    served = hub.last_rows
    assert len(served) == 16
    for sid, row in served.items():  # every temperature as the hourly rows say
        assert by_id[sid]["temperature_c"] == float(row["TA"]), sid
    assert word(by_id[108]) == ("비", "observed", "09:00")
    assert word(by_id[98]) == ("눈", "analysis", "08:00")  # degraded to the nowcast
    assert all(s["condition"] is not None for s in by_id.values())

    status = await (await client.get("/status")).text()
    assert "AWS 매분자료 (nph-aws2_min)" in status and "apply for" in status
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "ticker_source_up", source="aws_min") == 0.0
    assert sample(metrics, "ticker_source_up", source="kma_apihub") == 1.0
    assert sample(metrics, "ticker_source_up", source="ultra_ncst") == 1.0
    assert sample(metrics, "ticker_upstream_requests_total", endpoint="aws_min") == 1.0
    assert sample(metrics, "ticker_upstream_errors_total", source="aws_min", kind="forbidden") == 1.0
    assert sample(metrics, "ticker_source_failing", source="aws_min", kind="forbidden") == 1.0
    code = await check(hub_settings, stations, clock=winter)
    line = capsys.readouterr().out.strip()
    assert code == 1
    assert "aws_min failing" in line and "nph-aws2_min" in line and "apply for" in line
    assert KEY not in status + metrics + line


async def test_a_driven_day_stays_in_budget_and_shows_each_hour_within_two_minutes(
    hub, hub_settings, stations, store, winter
):
    # The nine unmanned stations report neither WC nor cloud: their sky comes from the forecast.
    hub.set_fault(values={sid: dict(NO_WORD_ROW) for sid in UNMANNED})
    start = datetime(2026, 1, 15, 9, 0, tzinfo=KST)
    counts: list[Counter[str]] = []
    delays: list[timedelta] = []
    pending: datetime | None = None
    async with aiohttp.ClientSession() as session:
        source = build_source(hub_settings, session)
        poller = Poller(stations=stations, source=source, store=store, clock=winter, interval_s=60)
        counted: Counter[str] = Counter()
        for minute in range(24 * 60 + 1):
            winter.now = start + timedelta(minutes=minute)
            if winter.now.minute == 0:
                counts.append(Counter(hub.stats()["requests"]))
                pending = winter.now
                # The fake publishes each hour between HH:05 and HH:09; the service is not told when.
                hub.sfctm2_lag = timedelta(minutes=5 + winter.now.hour % 5)
            if minute == 24 * 60:
                break
            counted.update((await poller.run_once()).requests)
            if pending is not None:
                snap = await store.load_snapshot()
                if all(o.observed_at >= pending for o in snap.observations.values()):
                    delays.append(winter.now - (pending + hub.sfctm2_lag))
                    pending = None
    per_hour = [sum((b - a).values()) for a, b in pairwise(counts)]
    assert len(per_hour) == 24
    assert max(per_hour) <= 40, per_hour
    assert counted == Counter({k: v for k, v in hub.stats()["requests"].items() if v})  # counted per endpoint
    assert set(counted) == {"sfctm2", "aws_min", "ultra_fcst"}  # no nowcast needed: minute data for all
    assert len(delays) == 24 and max(delays) <= timedelta(minutes=2), delays
