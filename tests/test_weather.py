"""Weather words: the table of ARCHITECTURE.md "Weather words", rule by rule, every WC decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticker.weather import (
    LABELS_KO,
    WC_WORDS,
    Condition,
    ConditionSource,
    SensorReading,
    decide,
    derive_condition,
)

C = Condition
S = ConditionSource
AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _expected_wc(code: int) -> Condition | None:
    """The contract's WMO 4677 table, written out independently of the implementation."""
    if 95 <= code <= 99 or code == 17:
        return C.THUNDERSTORM
    if code in (91, 92):
        return C.RAIN
    if code in (93, 94) or 85 <= code <= 86 or 70 <= code <= 79 or 36 <= code <= 39:
        return C.SNOW
    if 80 <= code <= 84 or 87 <= code <= 90:
        return C.SHOWER
    if code in (68, 69):
        return C.SLEET
    if 50 <= code <= 67:
        return C.RAIN
    if 40 <= code <= 49 or code in (11, 12):
        return C.FOG
    if 30 <= code <= 35 or 6 <= code <= 9:
        return C.DUST
    if code == 10:
        return C.MIST
    if code in (4, 5):
        return C.HAZE
    return None  # 20-29 (ended within the hour), 0-3, 13-16, 18-19: go on


def test_the_table_decides_every_code_0_to_99():
    assert sorted(WC_WORDS) == list(range(100))


@pytest.mark.parametrize("wc", range(100))
def test_wmo_4677_every_code(wc: int):
    expected = _expected_wc(wc)
    word = decide(wc=wc, ca_tot=None, ta=-5.0, observed_at=AT)
    if expected is None:
        assert word is None
    else:
        assert word is not None
        assert (word.condition, word.source, word.at) == (expected, S.OBSERVED, AT)


def test_wc_91_is_rain_not_thunderstorm():
    # Thunder in the preceding hour, rain now (108, 2024-11-26 17:00).
    assert derive_condition(wc=91, ta=8.0, ca_tot=10) is C.RAIN


@pytest.mark.parametrize("wc", [20, 21, 22, 25, 29])
def test_wc_20_29_ended_goes_on_to_cloud(wc: int):
    # WC 22 (snow ended) with a winter 3-hour RN at -0.3 ℃ is not 비/눈: the sky decides.
    assert derive_condition(wc=wc, rn=3.0, ta=-0.3, ca_tot=7) is C.MOSTLY_CLOUDY


@pytest.mark.parametrize(
    ("ta", "word"),
    [(25.0, C.RAIN), (1.0, C.RAIN), (0.9, C.SLEET), (0.0, C.SLEET), (-0.9, C.SLEET), (-1.0, C.SNOW)],
)
def test_rule_2_sensor_precipitation_by_minute_temperature(ta: float, word: Condition):
    reading = SensorReading(precipitating=True, temperature_c=ta, at=AT + timedelta(minutes=12))
    got = decide(wc=None, ca_tot=10, ta=30.0, observed_at=AT, sensor=reading)
    assert got is not None
    assert (got.condition, got.source, got.at) == (word, S.SENSOR, AT + timedelta(minutes=12))


def test_rule_2_sensor_dry_goes_on_and_ignores_the_nowcast():
    reading = SensorReading(precipitating=False, temperature_c=5.0, at=AT)
    got = decide(wc=None, ca_tot=None, ta=5.0, sensor=reading, pty=1, pty_at=AT)
    assert got is None


@pytest.mark.parametrize(
    ("pty", "word"), [(1, C.RAIN), (5, C.RAIN), (2, C.SLEET), (6, C.SLEET), (3, C.SNOW), (7, C.SNOW)]
)
def test_rule_2_nowcast_pty_where_the_sensor_is_unknown(pty: int, word: Condition):
    unknown = SensorReading(precipitating=None, temperature_c=None, at=AT)
    for sensor in (None, unknown):
        got = decide(wc=None, ca_tot=2, ta=20.0, sensor=sensor, pty=pty, pty_at=AT)
        assert got is not None
        assert (got.condition, got.source) == (word, S.ANALYSIS)


def test_rule_2_rn_alone_never_makes_a_word():
    assert derive_condition(wc=None, rn=3.0, ta=10.0, ca_tot=None) is None
    assert derive_condition(wc=None, rn=3.0, ta=10.0, ca_tot=0) is C.CLEAR


@pytest.mark.parametrize(
    ("ca", "word"),
    [(0, C.CLEAR), (2, C.CLEAR), (3, C.PARTLY_CLOUDY), (5, C.PARTLY_CLOUDY), (6, C.MOSTLY_CLOUDY),
     (8, C.MOSTLY_CLOUDY), (9, C.OVERCAST), (10, C.OVERCAST)],
)  # fmt: skip
def test_rule_3_total_cloud_beats_the_forecast(ca: int, word: Condition):
    got = decide(wc=None, ca_tot=ca, ta=10.0, observed_at=AT, sky=4, sky_at=AT)
    assert got is not None
    assert (got.condition, got.source) == (word, S.OBSERVED)


@pytest.mark.parametrize(("sky", "word"), [(1, C.CLEAR), (3, C.MOSTLY_CLOUDY), (4, C.OVERCAST)])
def test_rule_3_forecast_sky_where_no_cloud_is_reported(sky: int, word: Condition):
    issued = AT - timedelta(minutes=30)
    got = decide(wc=None, ca_tot=None, ta=10.0, observed_at=AT, sky=sky, sky_at=issued)
    assert got is not None
    assert (got.condition, got.source, got.at) == (word, S.FORECAST, issued)


@pytest.mark.parametrize("sky", [None, 0, 2, 5])
def test_rule_4_nothing_supports_a_word(sky: int | None):
    assert decide(wc=None, ca_tot=None, ta=10.0, sky=sky) is None


def test_labels_are_the_contract_words():
    assert {c.value: LABELS_KO[c] for c in C} == {
        "clear": "맑음",
        "partly_cloudy": "구름조금",
        "mostly_cloudy": "구름많음",
        "overcast": "흐림",
        "rain": "비",
        "snow": "눈",
        "sleet": "비/눈",
        "shower": "소나기",
        "thunderstorm": "뇌우",
        "fog": "안개",
        "mist": "박무",
        "haze": "연무",
        "dust": "황사",
    }


@given(
    wc=st.none() | st.integers(0, 99),
    ca=st.none() | st.integers(0, 10),
    wet=st.none() | st.booleans(),
    pty=st.none() | st.integers(0, 7),
    sky=st.none() | st.integers(0, 4),
)
def test_a_word_needs_evidence_and_names_it(wc, ca, wet, pty, sky):
    sensor = None if wet is None else SensorReading(wet, 5.0, AT)
    word = decide(
        wc=wc, ca_tot=ca, ta=5.0, observed_at=AT, sensor=sensor, pty=pty, pty_at=AT, sky=sky, sky_at=AT
    )
    if word is None:
        return
    if word.source is S.OBSERVED:
        assert (wc is not None and WC_WORDS[wc] is not None) or ca is not None
    elif word.source is S.SENSOR:
        assert wet is True
    elif word.source is S.ANALYSIS:
        assert wet is None and pty in (1, 2, 3, 4, 5, 6, 7)
    else:
        assert ca is None and sky in (1, 3, 4)
