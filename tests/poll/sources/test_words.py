"""The word feeds on their own: only what is needed is asked, cached per issue, failures contained."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.conftest import FixedClock
from ticker.models import KST, Observation, Station
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.aws_min import AwsMinuteFeed
from ticker.poll.sources.kma_apihub import KmaApiHubSource
from ticker.poll.sources.timing import PublicationGate
from ticker.poll.sources.ultra_fcst import UltraFcstFeed
from ticker.poll.sources.ultra_fcst import default_url as fcst_url
from ticker.poll.sources.ultra_ncst import UltraNcstSource
from ticker.poll.sources.ultra_ncst import default_url as ncst_url
from ticker.poll.sources.words import WordsSource, drain_requests
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.weather import Condition

KEY = "Words-Key-5"
DRY_NO_CLOUD = {"WC": "-9", "RN": "-9.0", "CA_TOT": "-9"}


@pytest.fixture
def winter() -> FixedClock:
    return FixedClock(datetime(2026, 1, 15, 0, 5, tzinfo=UTC))  # 09:05 KST


@pytest.fixture
async def hub(stations: list[Station], winter: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=winter) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def words(http: aiohttp.ClientSession, hub: FakeApiHub) -> WordsSource:
    base = hub.base_url
    return WordsSource(
        KmaApiHubSource(session=http, auth_key=KEY, base_url=base, retry=NO_RETRY),
        minute=AwsMinuteFeed(session=http, auth_key=KEY, base_url=base, retry=NO_RETRY),
        nowcast=UltraNcstSource(session=http, auth_key=KEY, url=ncst_url(base)),
        forecast=UltraFcstFeed(session=http, auth_key=KEY, url=fcst_url(base)),
    )


async def test_rows_that_decide_their_word_ask_no_feed(hub, http, stations, winter):
    hub.set_fault(values={s.id: {"WC": "61"} for s in stations})
    rows = await words(http, hub).fetch(stations, winter())
    assert {(r.condition, r.condition_source) for r in rows} == {("rain", "observed")}
    assert hub.stats()["requests"] == {"sfctm2": 1, "ultra_ncst": 0, "ultra_fcst": 0, "aws_min": 0}


async def test_only_the_cells_that_need_them_once_per_issue(hub, http, stations, winter):
    # 98 and 105: no minute data; 172: dry, no cloud; the rest: CA_TOT, minute data dry.
    hub.set_fault(values={98: DRY_NO_CLOUD, 105: DRY_NO_CLOUD, 172: DRY_NO_CLOUD,
                          **{s.id: {"CA_TOT": "5"} for s in stations if s.id not in (98, 105, 172)}})  # fmt: skip
    hub.set_fault(endpoint="aws_min", missing=[98, 105], values={s.id: {"RN-15m": 0.0} for s in stations})
    hub.set_fault(endpoint="ultra_ncst", values={98: {"PTY": "0"}, 105: {"PTY": "0"}})
    source = words(http, hub)
    for _ in range(7):  # 09:05 to 09:41, a cycle every six minutes
        await source.fetch(stations, winter())
        winter.advance(minutes=6)
    # 09:41: the 09:00 nowcast is out (:40): asked again, once per cell.
    assert hub.stats()["requests"]["ultra_ncst"] == 2 + 2
    # Sky: 98, 105 (dry by the nowcast, no cloud) and 172; 09:35 is before 09:45: one issue only.
    assert hub.stats()["requests"]["ultra_fcst"] == 3
    assert hub.stats()["requests"]["aws_min"] == 4  # every ten minutes at most
    assert drain_requests(source) == {"sfctm2": 7, "aws_min": 4, "ultra_ncst": 4, "ultra_fcst": 3}
    assert drain_requests(source) == {}


async def test_a_failing_forecast_takes_only_its_words(hub, http, stations, winter):
    hub.set_fault(values={172: DRY_NO_CLOUD, 108: {"CA_TOT": "0"}})
    hub.set_fault(endpoint="aws_min", values={s.id: {"RN-15m": 0.0} for s in stations})
    hub.set_fault(endpoint="ultra_fcst", kind="status", status=500)
    source = words(http, hub)
    rows = {r.station_id: r for r in await source.fetch(stations, winter())}
    assert rows[172].condition is None and rows[172].temperature_c is not None
    assert (rows[108].condition, rows[108].condition_source) == ("clear", "observed")
    states = {s.name: s for s in source.drain_feed_states()}
    assert states["ultra_fcst"].error_kind == "status" and "getUltraSrtFcst" in (
        states["ultra_fcst"].message or ""
    )
    assert states["aws_min"].error_kind is None
    # Three failed issues open its circuit: the forecast is left alone for a while.
    for _ in range(2):
        winter.advance(minutes=1)
        await source.fetch(stations, winter())
    asked = hub.stats()["requests"]["ultra_fcst"]
    assert asked == 3
    winter.advance(minutes=1)
    await source.fetch(stations, winter())
    assert hub.stats()["requests"]["ultra_fcst"] == asked


async def test_a_newer_word_of_the_same_hour_replaces_the_stored_one(store: Store):
    hour = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    base = Observation(
        station_id=98, observed_at=hour, fetched_at=hour, source="kma_apihub", temperature_c=-2.0
    )
    snowing = base.model_copy(update={"condition": Condition.SNOW, "condition_source": "sensor",
                                      "condition_at": hour + timedelta(minutes=3), "evidence_at": hour + timedelta(minutes=3)})  # fmt: skip
    stopped = base.model_copy(update={"evidence_at": hour + timedelta(minutes=13)})
    assert await store.save_observations([snowing]) == 1
    assert await store.save_observations([stopped]) == 1  # it stopped: no word now
    assert await store.save_observations([snowing]) == 0  # older evidence never comes back
    assert (await store.load_snapshot()).observations[98].condition is None


async def test_the_gate_hands_on_the_rows_between_hours(hub, http, stations, winter):
    hub.sfctm2_lag = timedelta(minutes=6)
    gate = PublicationGate(KmaApiHubSource(session=http, auth_key=KEY, base_url=hub.base_url, retry=NO_RETRY))
    first = await gate.fetch(stations, winter())  # 09:05: the 08:00 rows (09:00 is out at 09:06)
    assert not gate.from_cache and {r.observed_at.astimezone(KST).hour for r in first} == {8}
    asked = []
    for _ in range(61):  # to 10:06
        winter.advance(minutes=1)
        before = hub.stats()["requests"]["sfctm2"]
        await gate.fetch(stations, winter())
        if hub.stats()["requests"]["sfctm2"] > before:
            asked.append(winter().strftime("%M"))
    # 09:07 (two minutes after the last ask; out), nothing until 10:02, 10:04, then every minute
    # from two minutes before the learnt :07: 10:05, 10:06 (out).
    assert asked == ["07", "02", "04", "05", "06"]
    assert gate.expected_lag == timedelta(minutes=6)
