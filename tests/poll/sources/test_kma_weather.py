"""Weather words from ASOS rows, rule by rule (ARCHITECTURE.md: WC, then RN with TA, then CA_TOT, else none)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.poll.sources.test_kma_text import row_with
from ticker.poll.sources.kma_apihub import to_observation
from ticker.poll.sources.kma_text import parse_row
from ticker.weather import Condition, derive_condition

C = Condition
FETCHED = datetime(2026, 8, 18, 6, 5, tzinfo=UTC)


def word_of(**tokens: str) -> Condition | None:
    """The word a row with these tokens gets (no rain, no cloud, no WC unless given)."""
    base = {"WC": "-9", "RN": "-9.0", "CA_TOT": "-9", "TA": "20.0"}
    return to_observation(parse_row(row_with(**{**base, **tokens})), FETCHED).condition


# Rule 1: every WMO 4677 group the table names, at both ends of its range.
WC_TABLE = [
    (91, C.THUNDERSTORM), (95, C.THUNDERSTORM), (99, C.THUNDERSTORM), (17, C.THUNDERSTORM),
    (85, C.SNOW), (86, C.SNOW),
    (80, C.SHOWER), (84, C.SHOWER), (87, C.SHOWER), (90, C.SHOWER),
    (70, C.SNOW), (75, C.SNOW), (79, C.SNOW),
    (68, C.SLEET), (69, C.SLEET),
    (50, C.RAIN), (61, C.RAIN), (67, C.RAIN),
    (40, C.FOG), (49, C.FOG),
    (10, C.MIST), (11, C.MIST), (12, C.MIST),
    (4, C.HAZE), (5, C.HAZE),
    (6, C.DUST), (9, C.DUST),
]  # fmt: skip


@pytest.mark.parametrize(("wc", "word"), WC_TABLE)
def test_rule1_present_weather_code_decides_first(wc: int, word: Condition):
    # Cloud and rain that would say something else must not matter.
    assert word_of(WC=str(wc), CA_TOT="0", RN="5.0", TA="-5.0") is word
    assert derive_condition(wc=wc, rn=None, ta=None, ca_tot=None) is word


# Codes the table does not name: go on to the next rule.
@pytest.mark.parametrize("wc", [0, 1, 2, 3, 13, 14, 15, 16, 18, 19, 20, 29, 30, 39])
def test_rule1_other_codes_go_on(wc: int):
    assert word_of(WC=str(wc), CA_TOT="0") is C.CLEAR
    assert word_of(WC=str(wc), RN="1.0", TA="5.0") is C.RAIN
    assert word_of(WC=str(wc)) is None


# Rule 2: precipitation in the hour, the word by temperature.
RN_TABLE = [
    ("0.1", "1.0", C.RAIN), ("2.0", "25.0", C.RAIN), ("0.5", "1.1", C.RAIN),
    ("0.5", "-1.0", C.SNOW), ("0.5", "-9.0", C.SNOW), ("3.0", "-20.0", C.SNOW),
    ("0.5", "0.9", C.SLEET), ("0.5", "0.0", C.SLEET), ("0.5", "-0.9", C.SLEET),
]  # fmt: skip


@pytest.mark.parametrize(("rn", "ta", "word"), RN_TABLE)
def test_rule2_rain_in_the_hour_by_temperature(rn: str, ta: str, word: Condition):
    assert word_of(RN=rn, TA=ta, CA_TOT="0") is word


@pytest.mark.parametrize("rn", ["0.0", "-9.0", "-99.0"])
def test_rule2_no_rain_goes_on_to_cloud(rn: str):
    assert word_of(RN=rn, CA_TOT="10") is C.OVERCAST


def test_rule2_needs_a_temperature():
    assert derive_condition(wc=None, rn=2.0, ta=None, ca_tot=4) is C.PARTLY_CLOUDY
    assert derive_condition(wc=None, rn=2.0, ta=None, ca_tot=None) is None


# Rule 3: every total cloud amount.
CLOUD_TABLE = [
    (0, C.CLEAR), (1, C.CLEAR), (2, C.CLEAR),
    (3, C.PARTLY_CLOUDY), (4, C.PARTLY_CLOUDY), (5, C.PARTLY_CLOUDY),
    (6, C.MOSTLY_CLOUDY), (7, C.MOSTLY_CLOUDY), (8, C.MOSTLY_CLOUDY),
    (9, C.OVERCAST), (10, C.OVERCAST),
]  # fmt: skip


@pytest.mark.parametrize(("ca_tot", "word"), CLOUD_TABLE)
def test_rule3_total_cloud_in_tenths(ca_tot: int, word: Condition):
    assert word_of(CA_TOT=str(ca_tot)) is word


# Rule 4: nothing supports a word.
@pytest.mark.parametrize("ca_tot", ["-9", "11", "99"])
def test_rule4_no_word_is_invented(ca_tot: str):
    assert word_of(CA_TOT=ca_tot) is None


def test_the_labels_are_the_contracts_words():
    labels = {c.value: c.label_ko for c in Condition}
    assert labels == {
        "clear": "맑음", "partly_cloudy": "구름조금", "mostly_cloudy": "구름많음", "overcast": "흐림",
        "rain": "비", "snow": "눈", "sleet": "비/눈", "shower": "소나기", "thunderstorm": "뇌우",
        "fog": "안개", "mist": "박무", "haze": "연무", "dust": "황사",
    }  # fmt: skip
