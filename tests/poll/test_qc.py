"""QC table: ranges, future rows, the newest valid row per station."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticker.models import Observation
from ticker.poll.qc import Rejection, check, screen

NOW = datetime(2025, 7, 28, 6, 5, tzinfo=UTC)


def obs(**kw: object) -> Observation:
    base: dict[str, object] = {
        "station_id": 108,
        "observed_at": NOW - timedelta(minutes=5),
        "fetched_at": NOW,
        "source": "test",
        "temperature_c": 20.0,
        "humidity_pct": 50.0,
        "wind_speed_ms": 2.0,
        "precipitation_mm": 0.0,
    }
    base.update(kw)
    return Observation.model_validate(base)


@pytest.mark.parametrize(
    ("field", "value", "kept"),
    [
        ("temperature_c", -9.0, True),
        ("temperature_c", -49.9, True),
        ("temperature_c", 50.0, True),
        ("humidity_pct", 0.0, True),
        ("humidity_pct", 100.0, True),
        ("humidity_pct", 100.1, False),
        ("humidity_pct", -1.0, False),
        ("wind_speed_ms", 0.0, True),
        ("wind_speed_ms", 75.0, True),
        ("wind_speed_ms", 75.1, False),
        ("wind_speed_ms", -0.1, False),
        ("precipitation_mm", 0.0, True),
        ("precipitation_mm", -0.1, False),
        ("precipitation_mm", -9.0, False),
    ],
)
def test_ranges_null_out_implausible_fields(field, value, kept):
    result = check(obs(**{field: value}), NOW)
    assert isinstance(result, Observation)
    assert getattr(result, field) == (value if kept else None)


@pytest.mark.parametrize("ta", [-50.0, -99.0, -999.0, 50.1, 60.0, None])
def test_rows_without_a_usable_temperature_are_rejected(ta):
    assert check(obs(temperature_c=ta), NOW) == Rejection(108, "no_temperature")


def test_rows_from_the_future():
    # Clock skew of up to two minutes is allowed; anything later is not an observation yet.
    assert isinstance(check(obs(observed_at=NOW + timedelta(minutes=2)), NOW), Observation)
    assert check(obs(observed_at=NOW + timedelta(minutes=2, seconds=1)), NOW) == Rejection(108, "future")
    assert check(obs(observed_at=NOW + timedelta(minutes=9)), NOW) == Rejection(108, "future")


@pytest.mark.parametrize("source", ["kma_apihub", "ultra_ncst"])
def test_hourly_rows_must_be_on_the_hour(source):
    on_hour = NOW.replace(minute=0)
    assert isinstance(check(obs(observed_at=on_hour, source=source), NOW), Observation)
    off = obs(observed_at=on_hour + timedelta(minutes=1), source=source)
    assert check(off, NOW) == Rejection(108, "off_hour")
    # The built-in simulation steps every ten minutes: not an hourly source.
    assert isinstance(check(obs(observed_at=on_hour + timedelta(minutes=1), source="sim"), NOW), Observation)


def test_hourly_source_names_match_the_sources():
    from ticker.poll.qc import HOURLY_SOURCES
    from ticker.poll.sources import kma_apihub, ultra_ncst

    assert {kma_apihub.SOURCE_NAME, ultra_ncst.SOURCE_NAME} == HOURLY_SOURCES


def test_newest_valid_row_wins_and_unknown_stations_are_dropped():
    rows = [
        obs(observed_at=NOW - timedelta(hours=2), temperature_c=1.0),
        obs(observed_at=NOW - timedelta(hours=1), temperature_c=2.0),
        obs(observed_at=NOW, temperature_c=-99.0),  # newest, but invalid
        obs(observed_at=NOW + timedelta(hours=1), temperature_c=4.0),  # future
        obs(station_id=999, temperature_c=5.0),
    ]
    result = screen(rows, NOW, [108])
    assert result.accepted[108].temperature_c == 2.0
    assert sorted(r.reason for r in result.rejected) == ["future", "no_temperature", "unknown_station"]
