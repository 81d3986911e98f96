"""Data sanity, rule by rule, on rows as the API Hub sends them (ARCHITECTURE.md "Data sanity")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.poll.sources.test_kma_text import frame_of, row_with
from ticker.models import Observation
from ticker.poll.qc import Rejection, check, screen
from ticker.poll.sources.kma_apihub import to_observation
from ticker.poll.sources.kma_text import parse_frame, parse_row
from ticker.store import Store

NOW = datetime(2026, 8, 18, 6, 5, tzinfo=UTC)  # 15:05 KST
HOUR = "202608181500"


def obs(**tokens: str) -> Observation:
    return to_observation(parse_row(row_with(**{"TM": HOUR, **tokens})), NOW)


# (tokens, field, expected): the value kept (None = unknown), or "reject" for the whole row.
RANGE_TABLE = [
    ({"TA": "-50.0"}, "temperature_c", "reject"),
    ({"TA": "-49.9"}, "temperature_c", -49.9),
    ({"TA": "-9.0"}, "temperature_c", -9.0),
    ({"TA": "-99.0"}, "temperature_c", "reject"),
    ({"TA": "50.0"}, "temperature_c", 50.0),
    ({"TA": "50.1"}, "temperature_c", "reject"),
    ({"HM": "0.0"}, "humidity_pct", 0.0),
    ({"HM": "100.0"}, "humidity_pct", 100.0),
    ({"HM": "100.1"}, "humidity_pct", None),
    ({"HM": "-9.0"}, "humidity_pct", None),
    ({"WS": "0.0"}, "wind_speed_ms", 0.0),
    ({"WS": "75.0"}, "wind_speed_ms", 75.0),
    ({"WS": "75.1"}, "wind_speed_ms", None),
    ({"WS": "-9.0"}, "wind_speed_ms", None),
    ({"RN": "0.0"}, "precipitation_mm", 0.0),
    ({"RN": "12.5"}, "precipitation_mm", 12.5),
    ({"RN": "-9.0"}, "precipitation_mm", None),
    ({"RN": "-0.1"}, "precipitation_mm", None),
]


@pytest.mark.parametrize(("tokens", "field", "expected"), RANGE_TABLE)
def test_ranges(tokens: dict[str, str], field: str, expected: object):
    result = check(obs(**tokens), NOW)
    if expected == "reject":
        assert isinstance(result, Rejection) and result.reason == "no_temperature"
    else:
        assert isinstance(result, Observation)
        assert getattr(result, field) == expected


@pytest.mark.parametrize(
    ("minutes_ahead", "accepted"),
    [(-60, True), (0, True), (2, True), (3, False), (9, False), (60, False)],
)
def test_rows_more_than_two_minutes_in_the_future_are_rejected(minutes_ahead: int, accepted: bool):
    # The row is on the hour (15:00 KST); the clock reads that many minutes before it.
    now = datetime(2026, 8, 18, 6, 0, tzinfo=UTC) - timedelta(minutes=minutes_ahead)
    result = check(to_observation(parse_row(row_with(TM=HOUR)), now), now)
    assert isinstance(result, Observation) is accepted
    if not accepted:
        assert isinstance(result, Rejection) and result.reason == "future"


def test_an_hourly_row_off_the_hour_is_rejected():
    result = check(obs(TM="202608181436"), NOW)
    assert isinstance(result, Rejection) and result.reason == "off_hour"


def test_the_newest_valid_row_wins_among_duplicates():
    body = frame_of(
        row_with(STN="108", TM="202608181300", TA="20.0"),
        row_with(STN="108", TM="202608181500", TA="-99.0"),  # newest, but no temperature
        row_with(STN="108", TM="202608181400", TA="21.0"),  # newest valid
        row_with(STN="108", TM="202608181630", TA="30.0"),  # future
        row_with(STN="108", TM="202608181200", TA="19.0"),
    )
    rows = [to_observation(r, NOW) for r in parse_frame(body).rows]
    result = screen(rows, NOW, [108])
    assert result.accepted[108].temperature_c == 21.0
    assert sorted(r.reason for r in result.rejected) == ["future", "no_temperature"]


def test_rows_for_stations_not_configured_are_not_kept():
    result = screen([obs(STN="999")], NOW, [108])
    assert result.accepted == {}
    assert [r.reason for r in result.rejected] == ["unknown_station"]


async def test_an_older_observation_never_replaces_a_newer_one(store: Store):
    newer = obs(STN="108", TM="202608181500", TA="25.0")
    older = obs(STN="108", TM="202608181400", TA="11.0")
    assert await store.save_observations([newer]) == 1
    assert await store.save_observations([older]) == 0
    assert await store.save_observations([newer.model_copy(update={"temperature_c": 1.0})]) == 0
    snap = await store.load_snapshot()
    assert snap.observations[108].temperature_c == 25.0
    assert snap.version == 1
