"""Weather words: the derivation table of ARCHITECTURE.md, rule by rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticker.weather import LABELS_KO, Condition, derive_condition

C = Condition


@pytest.mark.parametrize(
    ("wc", "word"),
    [
        *[(c, C.THUNDERSTORM) for c in (17, 91, 95, 99)],
        *[(c, C.SNOW) for c in (85, 86, 70, 75, 79)],
        *[(c, C.SHOWER) for c in (80, 82, 84, 87, 90)],
        *[(c, C.SLEET) for c in (68, 69)],
        *[(c, C.RAIN) for c in (50, 55, 60, 67)],
        *[(c, C.FOG) for c in (40, 45, 49)],
        *[(c, C.MIST) for c in (10, 11, 12)],
        *[(c, C.HAZE) for c in (4, 5)],
        *[(c, C.DUST) for c in (6, 7, 9)],
    ],
)
def test_rule_1_present_weather_code_decides(wc, word):
    # Whatever RN and cloud say, a recognised WC wins.
    assert derive_condition(wc=wc, rn=3.0, ta=-5.0, ca_tot=0) is word


@pytest.mark.parametrize("wc", [0, 1, 2, 3, 13, 14, 16, 18, 19, 20, 29, 30, 39])
def test_rule_1_other_codes_go_on(wc):
    assert derive_condition(wc=wc, rn=None, ta=20.0, ca_tot=0) is C.CLEAR
    assert derive_condition(wc=wc, rn=1.0, ta=20.0, ca_tot=0) is C.RAIN


@pytest.mark.parametrize(
    ("ta", "word"),
    [
        (25.0, C.RAIN),
        (1.0, C.RAIN),
        (0.9, C.SLEET),
        (0.0, C.SLEET),
        (-0.9, C.SLEET),
        (-1.0, C.SNOW),
        (-9.0, C.SNOW),
    ],
)
def test_rule_2_precipitation_with_temperature(ta, word):
    assert derive_condition(wc=None, rn=0.5, ta=ta, ca_tot=10) is word


def test_rule_2_needs_rain_above_zero():
    assert derive_condition(wc=None, rn=0.0, ta=10.0, ca_tot=10) is C.OVERCAST


@pytest.mark.parametrize(
    ("ca", "word"),
    [
        (0, C.CLEAR),
        (2, C.CLEAR),
        (3, C.PARTLY_CLOUDY),
        (5, C.PARTLY_CLOUDY),
        (6, C.MOSTLY_CLOUDY),
        (8, C.MOSTLY_CLOUDY),
        (9, C.OVERCAST),
        (10, C.OVERCAST),
    ],
)
def test_rule_3_total_cloud(ca, word):
    assert derive_condition(wc=None, rn=None, ta=10.0, ca_tot=ca) is word


@pytest.mark.parametrize("ca", [None, 11, -1])
def test_rule_4_nothing_supports_a_word(ca):
    assert derive_condition(wc=None, rn=None, ta=10.0, ca_tot=ca) is None


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
    rn=st.none() | st.floats(0, 200),
    ta=st.none() | st.floats(-49.9, 50),
    ca=st.none() | st.integers(0, 10),
)
def test_a_word_needs_evidence(wc, rn, ta, ca):
    word = derive_condition(wc=wc, rn=rn, ta=ta, ca_tot=ca)
    if word is None:
        return
    wc_word = wc is not None and derive_condition(wc=wc, rn=None, ta=None, ca_tot=None) is not None
    assert wc_word or (rn is not None and rn > 0) or ca is not None
