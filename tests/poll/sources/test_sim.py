"""The simulated source: deterministic and plausible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticker.models import KST
from ticker.poll.sources.sim import SimSource, simulate


def test_deterministic(stations):
    at = datetime(2025, 7, 28, 6, 0, tzinfo=UTC)
    for s in stations:
        assert simulate(s, at, at) == simulate(s, at, at)


def test_plausible_through_a_year(stations):
    start = datetime(2025, 1, 1, tzinfo=KST)
    seen_words = set()
    for hours in range(0, 365 * 24, 7):
        at = start + timedelta(hours=hours)
        for s in stations[::5]:
            o = simulate(s, at, at)
            assert o.temperature_c is not None and -25 <= o.temperature_c <= 40
            assert 0 <= (o.humidity_pct or 0) <= 100
            assert 0 <= (o.wind_speed_ms or 0) <= 10
            if o.precipitation_mm:
                assert o.condition in {"rain", "snow", "sleet"}
            seen_words.add(o.condition)
    assert {"clear", "partly_cloudy", "mostly_cloudy", "overcast", "rain"} <= seen_words


def test_seasons_days_and_latitude(stations):
    seoul = next(s for s in stations if s.id == 108)
    jeju = next(s for s in stations if s.id == 184)

    def mean(station, month, hour):
        vals = [
            simulate(
                station,
                datetime(2025, month, d, hour, tzinfo=KST),
                datetime(2025, month, d, hour, tzinfo=KST),
            ).temperature_c
            for d in range(1, 28)
        ]
        known = [v for v in vals if v is not None]
        assert len(known) == len(vals)  # the sim always has a temperature
        return sum(known) / len(known)

    assert mean(seoul, 8, 15) > mean(seoul, 1, 15) + 15
    assert mean(seoul, 5, 15) > mean(seoul, 5, 5) + 3  # afternoon warmer than dawn
    assert mean(jeju, 1, 12) > mean(seoul, 1, 12) + 4  # the south is milder in winter


async def test_fetch_returns_one_row_per_station_at_the_slot(stations):
    now = datetime(2025, 7, 28, 6, 7, 31, tzinfo=UTC)
    rows = await SimSource().fetch(stations, now)
    assert [r.station_id for r in rows] == [s.id for s in stations]
    assert {r.observed_at for r in rows} == {datetime(2025, 7, 28, 6, 0, tzinfo=UTC)}
    assert all(r.fetched_at == now and r.source == "sim" for r in rows)


def test_sim_words_carry_a_plausible_mix_of_provenances(stations):
    from collections import Counter
    from datetime import UTC, datetime, timedelta

    from ticker.poll.sources.sim import UNMANNED, simulate

    start = datetime(2026, 1, 1, tzinfo=UTC)
    seen: Counter[tuple[bool, str | None]] = Counter()
    for hour in range(0, 24 * 60, 3):
        at = start + timedelta(hours=hour)
        for st in stations:
            obs = simulate(st, at, at)
            seen[(st.id in UNMANNED, obs.condition_source)] += 1
            assert (obs.condition is None) == (obs.condition_source is None) == (obs.condition_at is None)
    assert {src for (_, src) in seen} >= {"observed", "sensor", "analysis", "forecast"}
    assert seen[(True, "observed")] == 0  # unmanned stations have no WC or cloud to observe
    assert seen[(False, "forecast")] == seen[(False, "sensor")] == 0
