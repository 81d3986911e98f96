"""Weather words from ASOS rows alone (ARCHITECTURE.md: WC, then CA_TOT, else none; RN never decides)."""

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
    (91, C.RAIN), (93, C.SNOW), (95, C.THUNDERSTORM), (99, C.THUNDERSTORM), (17, C.THUNDERSTORM),
    (85, C.SNOW), (86, C.SNOW),
    (80, C.SHOWER), (84, C.SHOWER), (87, C.SHOWER), (90, C.SHOWER),
    (70, C.SNOW), (75, C.SNOW), (79, C.SNOW),
    (68, C.SLEET), (69, C.SLEET),
    (50, C.RAIN), (61, C.RAIN), (67, C.RAIN),
    (40, C.FOG), (49, C.FOG),
    (10, C.MIST), (11, C.FOG), (12, C.FOG), (36, C.SNOW), (30, C.DUST),
    (4, C.HAZE), (5, C.HAZE),
    (6, C.DUST), (9, C.DUST),
]  # fmt: skip


@pytest.mark.parametrize(("wc", "word"), WC_TABLE)
def test_rule1_present_weather_code_decides_first(wc: int, word: Condition):
    # Cloud and rain that would say something else must not matter.
    assert word_of(WC=str(wc), CA_TOT="0", RN="5.0", TA="-5.0") is word
    assert derive_condition(wc=wc, rn=None, ta=None, ca_tot=None) is word


# Codes the table does not name: go on to the next rule.
@pytest.mark.parametrize("wc", [0, 1, 2, 3, 13, 14, 15, 16, 18, 19, 20, 21, 22, 29])
def test_rule1_other_codes_go_on(wc: int):
    assert word_of(WC=str(wc), CA_TOT="0") is C.CLEAR
    assert word_of(WC=str(wc), RN="1.0", TA="5.0") is None
    assert word_of(WC=str(wc)) is None


# Rule 2 is not the row's: an hourly (or winter 3-hourly) RN says what fell, not what is falling.
@pytest.mark.parametrize(("rn", "ta"), [("0.1", "1.0"), ("3.0", "-0.3"), ("2.3", "25.0")])
def test_rn_alone_never_makes_a_word(rn: str, ta: str):
    assert word_of(RN=rn, TA=ta) is None
    assert word_of(RN=rn, TA=ta, CA_TOT="10") is C.OVERCAST


def test_wc_22_with_winter_rn_gives_the_sky_of_ca_tot():
    # 108, 2024-11-27 15:00: snow ended, RN 3.0 over three hours, -0.3 ℃.
    obs = to_observation(parse_row(row_with(WC="22", RN="3.0", TA="-0.3", CA_TOT="8")), FETCHED)
    assert (obs.condition, obs.condition_source, obs.condition_at) == (
        C.MOSTLY_CLOUDY,
        "observed",
        obs.observed_at,
    )


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
