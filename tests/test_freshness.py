"""The freshness model: states by age, source and poller health, the verdict, transition logs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.ports import free_port
from ticker.freshness import (
    NO_ROW,
    PUBLISH_GRACE_S,
    State,
    TransitionLog,
    assess,
    human_age,
    late_after_s,
    parse_cycles,
    state_for,
)
from ticker.logs import JsonFormatter
from ticker.models import Observation, Station
from ticker.poll.poller import Poller
from ticker.poll.sources.sim import SimSource
from ticker.redaction import redact
from ticker.redis_client import connect
from ticker.report import (
    Status,
    build_report,
    check_line,
    headline,
    load_report,
    poller_health,
    source_health,
)
from ticker.store import Snapshot, Store

NOW = datetime(2025, 7, 28, 6, 5, tzinfo=UTC)


def _station(max_age_s: int = 7200, expected_interval_s: int = 3600) -> Station:
    return Station(
        id=108,
        name="서울",
        name_en="Seoul",
        lat=37.57,
        lon=126.97,
        alt_m=85.8,
        nx=60,
        ny=127,
        max_age_s=max_age_s,
        expected_interval_s=expected_interval_s,
    )


@pytest.mark.parametrize(
    ("age_s", "state"),
    [
        (0, State.FRESH),
        (3600 + PUBLISH_GRACE_S, State.FRESH),  # the boundary itself is still on time
        (3600 + PUBLISH_GRACE_S + 1, State.LATE),
        (7200, State.LATE),
        (7201, State.STALE),
        (86400, State.STALE),
        (
            -300,
            State.FRESH,
        ),  # a few minutes "ahead" (clock skew) is not a fault here; QC rejects more
    ],
)
def test_state_by_age(age_s: int, state: State) -> None:
    assert state_for(_station(), NOW - timedelta(seconds=age_s), NOW) is state


def test_no_observation_is_missing() -> None:
    assert state_for(_station(), None, NOW) is State.MISSING


def test_per_station_thresholds_come_from_the_station() -> None:
    tight = _station(max_age_s=1800, expected_interval_s=600)
    assert late_after_s(tight) == 600 + PUBLISH_GRACE_S
    assert state_for(tight, NOW - timedelta(minutes=31), NOW) is State.STALE
    assert state_for(_station(), NOW - timedelta(minutes=31), NOW) is State.FRESH


@given(st.integers(min_value=0, max_value=10 * 86400), st.integers(min_value=1, max_value=86400))
def test_states_never_get_better_with_age(age_s: int, step_s: int) -> None:
    order = [State.FRESH, State.LATE, State.STALE]
    st_ = _station()
    younger = state_for(st_, NOW - timedelta(seconds=age_s), NOW)
    older = state_for(st_, NOW - timedelta(seconds=age_s + step_s), NOW)
    assert order.index(older) >= order.index(younger)


def test_last_error_of_a_station_comes_from_the_cycles() -> None:
    cycles = parse_cycles(
        [
            {
                "started_at": NOW.timestamp(),
                "source": "kma_apihub",
                "outcome": "partial",
                "missing": [108],
            },
            {
                "started_at": NOW.timestamp() - 300,
                "source": "kma_apihub",
                "outcome": "error",
                "error_kind": "timeout",
                "message": "slow",
            },
        ]
    )
    seoul = _station()
    busan = seoul.model_copy(update={"id": 159, "name": "부산"})
    rows = assess([seoul, busan], {}, {}, NOW, cycles=cycles)
    assert (rows[0].last_error, rows[0].last_error_at) == (NO_ROW, NOW)
    assert rows[1].last_error == "timeout"
    assert rows[1].last_error_at == NOW - timedelta(seconds=300)


@pytest.mark.parametrize(
    ("message", "leak"),
    [
        (
            "GET https://apihub.kma.go.kr/api/typ01/url/kma_sfctm2.php?authKey=s3cr3tK3y failed",
            "s3cr3tK3y",
        ),
        ("serviceKey=abc%2Bdef&numOfRows=10", "abc%2Bdef"),
        ("cannot reach redis://ticker:hunter2@db.example:6379/0", "hunter2"),
        ("password=hunter2 token=t0k3n", "t0k3n"),
    ],
)
def test_redact_removes_credentials(message: str, leak: str) -> None:
    cleaned = redact(message)
    assert cleaned is not None
    assert leak not in cleaned
    assert "***" in cleaned


def test_redact_keeps_plain_messages() -> None:
    assert redact("401: authKey not valid") == "401: authKey not valid"


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ({}, "unknown"),
        ({"last_success": "100"}, "ok"),
        ({"last_success": "100", "last_error_at": "200", "last_error_kind": "quota"}, "failing"),
        ({"last_success": "300", "last_error_at": "200", "last_error_kind": "quota"}, "ok"),
        ({"last_error_at": "200", "last_error_kind": "auth"}, "failing"),
    ],
)
def test_source_health(raw: dict[str, str], state: str) -> None:
    assert source_health("kma_apihub", raw).state == state


def test_source_health_counts_errors_by_class() -> None:
    health = source_health("kma_apihub", {"errors:timeout": "3", "errors:auth": "1", "last_error": "x"})
    assert health.errors == {"auth": 1, "timeout": 3}


def test_poller_health_by_heartbeat_age() -> None:
    beat = {"started_at": (NOW - timedelta(seconds=200)).timestamp()}
    assert poller_health(beat, None, NOW, interval_s=60).alive  # limit 3 x 60 + 30 = 210 s
    assert not poller_health(beat, None, NOW, interval_s=50).alive  # limit 180 s
    never = poller_health(None, None, NOW, interval_s=60)
    assert not never.alive and never.last_cycle_at is None


def _report(
    observed_age_s: int | None,
    *,
    beat_age_s: int | None = 10,
    redis_ok: bool = True,
    sources: dict[str, dict[str, str]] | None = None,
):

    obs = {}
    if observed_age_s is not None:
        obs[108] = Observation(
            station_id=108,
            observed_at=NOW - timedelta(seconds=observed_age_s),
            fetched_at=NOW,
            source="sim",
            temperature_c=30.0,
        )
    beat = None if beat_age_s is None else {"started_at": NOW.timestamp() - beat_age_s}
    return build_report(
        [_station()],
        NOW,
        redis_ok=redis_ok,
        observations=obs,
        fetched_at={},
        version=3,
        heartbeat=beat,
        lease=None,
        cycles=[],
        sources=sources or {"sim": {"last_success": "1"}},
        interval_s=60,
    )


@pytest.mark.parametrize(
    ("age", "beat", "status", "words"),
    [
        (60, 10, Status.OK, "1 of 1 stations fresh"),
        (5000, 10, Status.WARNING, "stations late: 서울"),
        (8000, 10, Status.CRITICAL, "stations stale or missing: 서울 stale"),
        (None, 10, Status.CRITICAL, "서울 missing"),
        (60, None, Status.CRITICAL, "poller not polling: no poll cycle recorded"),
        (60, 600, Status.CRITICAL, "poller not polling: last cycle 10 min ago"),
    ],
)
def test_verdict(age: int | None, beat: int | None, status: Status, words: str) -> None:
    report = _report(age, beat_age_s=beat)
    assert report.status is status
    assert words in report.summary
    line = check_line(report)
    assert line.startswith(status.value.upper() + " - ")
    assert "\n" not in line
    if status is not Status.OK:
        assert line.endswith(words)


def test_failing_source_is_a_warning_while_stations_are_fresh() -> None:
    failing = {
        "sim": {
            "last_success": "1",
            "last_error_at": str(NOW.timestamp()),
            "last_error_kind": "quota",
        }
    }
    report = _report(60, sources=failing)
    assert report.status is Status.WARNING
    assert report.problems == ["sim failing, last at 07-28 15:05 KST (quota: )"]
    assert "sim failing (quota)" in headline(report)
    assert check_line(report) == (
        "WARNING - 1 of 1 stations fresh; sim failing, last at 07-28 15:05 KST (quota: )"
    )


def test_unreachable_redis_is_critical() -> None:
    report = _report(60, beat_age_s=None, redis_ok=False)
    assert report.status is Status.CRITICAL
    assert report.problems == ["Redis unreachable"]  # poller state is unknown, not "not polling"
    assert headline(report).startswith("Redis unreachable")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 s"),
        (119, "119 s"),
        (120, "2 min"),
        (3600, "1 h"),
        (3660, "1 h 1 min"),
        (86400, "1 d"),
        (90000, "1 d 1 h"),
        (-30, "in 30 s"),
    ],
)
def test_human_age(seconds: int | None, text: str) -> None:
    assert human_age(seconds) == text


def test_transitions_are_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    log = TransitionLog()
    st_ = _station()

    def rows(age_s: int | None):

        obs = (
            {}
            if age_s is None
            else {
                108: Observation(
                    station_id=108,
                    observed_at=NOW - timedelta(seconds=age_s),
                    fetched_at=NOW,
                    source="sim",
                    temperature_c=1.0,
                )
            }
        )
        return assess([st_], obs, {}, NOW)

    caplog.set_level(logging.INFO, logger="ticker.freshness")
    assert log.update(rows(60)) == []  # starting fresh says nothing
    assert log.update(rows(8000)) == [(108, State.FRESH, State.STALE)]
    for _ in range(5):
        assert log.update(rows(9000)) == []  # still stale: no repetition
    assert log.update(rows(60)) == [(108, State.STALE, State.FRESH)]
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(messages) == 2
    assert messages[0][0] == "WARNING" and "108 서울 is stale" in messages[0][1]
    assert messages[1][0] == "INFO" and "fresh again (was stale)" in messages[1][1]
    assert caplog.records[0].state == "stale"  # type: ignore[attr-defined]


def test_starting_in_a_bad_state_is_logged() -> None:
    log = TransitionLog()
    assert log.update(assess([_station()], {}, {}, NOW)) == [(108, None, State.MISSING)]


async def test_load_report_reads_what_the_poller_wrote(stations, store: Store, clock) -> None:
    poller = Poller(stations=stations, source=SimSource(), store=store, clock=clock, interval_s=60)
    await poller.run_once()
    report = await load_report(store, stations, clock(), interval_s=60, source_names=["sim"])
    assert report.status is Status.OK, report.problems
    assert report.redis == "ok"
    assert report.version == 1
    assert report.counts[State.FRESH] == len(stations)
    assert report.poller.alive and report.poller.heartbeat_age_s == 0
    assert [c.outcome for c in report.cycles] == ["ok"]
    assert report.sources[0].name == "sim" and report.sources[0].state == "ok"
    seoul = next(r for r in report.stations if r.id == 108)
    assert seoul.fetched_at == clock()
    assert seoul.age_s == 300  # the sim's 15:00 row, read at 15:05

    clock.advance(hours=3)
    later = await load_report(store, stations, clock(), interval_s=60, source_names=["sim"])
    assert later.status is Status.CRITICAL
    assert later.counts[State.STALE] == len(stations)
    assert not later.poller.alive


async def test_load_report_without_redis_judges_the_fallback(stations, clock) -> None:

    dead = connect(f"redis://127.0.0.1:{free_port()}/0")
    try:
        obs = await SimSource().fetch(stations, clock())
        fallback = Snapshot(version=7, observations={o.station_id: o for o in obs})
        report = await load_report(
            Store(dead), stations, clock(), interval_s=60, source_names=["sim"], fallback=fallback
        )
    finally:
        await dead.aclose()
    assert report.redis == "unreachable"
    assert report.status is Status.CRITICAL
    assert report.counts[State.FRESH] == len(stations)  # what this process still serves is fresh
    assert report.sources[0].state == "unknown"
    assert report.version is None


def test_json_log_lines_carry_the_station_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ticker.freshness")
    TransitionLog().update(assess([_station()], {}, {}, NOW))
    (record,) = caplog.records
    doc = json.loads(JsonFormatter().format(record))
    assert doc["level"] == "warning"
    assert doc["logger"] == "ticker.freshness"
    assert doc["msg"].startswith("station 108 서울 is missing")
    assert (doc["event"], doc["station"], doc["state"]) == ("station_state", 108, "missing")
    assert doc["ts"].endswith("+00:00")
