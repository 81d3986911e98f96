"""Weather words: the vocabulary, WMO 4677, and the pure decision from the evidence of each feed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Condition(StrEnum):
    """One weather word; the value is the JSON name."""

    CLEAR = "clear"
    PARTLY_CLOUDY = "partly_cloudy"
    MOSTLY_CLOUDY = "mostly_cloudy"
    OVERCAST = "overcast"
    RAIN = "rain"
    SNOW = "snow"
    SLEET = "sleet"
    SHOWER = "shower"
    THUNDERSTORM = "thunderstorm"
    FOG = "fog"
    MIST = "mist"
    HAZE = "haze"
    DUST = "dust"

    @property
    def label_ko(self) -> str:
        return LABELS_KO[self]

    @property
    def label_en(self) -> str:
        return LABELS_EN[self]

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_ko


LABELS_KO: dict[Condition, str] = {
    Condition.CLEAR: "맑음",
    Condition.PARTLY_CLOUDY: "구름조금",
    Condition.MOSTLY_CLOUDY: "구름많음",
    Condition.OVERCAST: "흐림",
    Condition.RAIN: "비",
    Condition.SNOW: "눈",
    Condition.SLEET: "비/눈",
    Condition.SHOWER: "소나기",
    Condition.THUNDERSTORM: "뇌우",
    Condition.FOG: "안개",
    Condition.MIST: "박무",
    Condition.HAZE: "연무",
    Condition.DUST: "황사",
}

LABELS_EN: dict[Condition, str] = {
    Condition.CLEAR: "Clear",
    Condition.PARTLY_CLOUDY: "Partly cloudy",
    Condition.MOSTLY_CLOUDY: "Mostly cloudy",
    Condition.OVERCAST: "Overcast",
    Condition.RAIN: "Rain",
    Condition.SNOW: "Snow",
    Condition.SLEET: "Sleet",
    Condition.SHOWER: "Showers",
    Condition.THUNDERSTORM: "Thunderstorm",
    Condition.FOG: "Fog",
    Condition.MIST: "Mist",
    Condition.HAZE: "Haze",
    Condition.DUST: "Dust",
}


class ConditionSource(StrEnum):
    """Where a weather word came from; the value is the JSON name of ``condition_source``."""

    OBSERVED = "observed"  # the ASOS row (WC, or CA_TOT)
    SENSOR = "sensor"  # the station's automatic precipitation detector (AWS minute data)
    ANALYSIS = "analysis"  # 초단기실황 PTY of the station's grid cell
    FORECAST = "forecast"  # 초단기예보 SKY of the station's grid cell


@dataclass(frozen=True)
class Word:
    """A decided weather word, where it came from and the time of that evidence."""

    condition: Condition
    source: ConditionSource
    at: datetime | None = None


@dataclass(frozen=True)
class SensorReading:
    """One station's AWS minute data: is it precipitating, and at what temperature.

    ``precipitating`` is None when neither the detector (RE) nor the 15-minute amount is known.
    """

    precipitating: bool | None
    temperature_c: float | None
    at: datetime


def _table(*groups: tuple[Condition | None, Iterable[int]]) -> dict[int, Condition | None]:
    table: dict[int, Condition | None] = {}
    for word, codes in groups:
        for code in codes:
            if code in table:
                msg = f"WC {code} decided twice"
                raise ValueError(msg)
            table[code] = word
    return table


def _r(first: int, last: int) -> range:
    return range(first, last + 1)


# WMO 4677 (present weather reported from a manned station), every code 0-99 decided: a word for
# the weather at the time of observation, or None to go on to the next rule (20-29: the phenomenon
# ended within the hour; 91-94: thunder in the preceding hour but not now).
WC_WORDS: dict[int, Condition | None] = _table(
    (Condition.THUNDERSTORM, [*_r(95, 99), 17]),
    (Condition.RAIN, _r(91, 92)),
    (Condition.SNOW, [*_r(93, 94), *_r(85, 86), *_r(70, 79), *_r(36, 39)]),
    (Condition.SHOWER, [*_r(80, 84), *_r(87, 90)]),
    (Condition.SLEET, _r(68, 69)),
    (Condition.RAIN, _r(50, 67)),
    (Condition.FOG, [*_r(40, 49), 11, 12]),
    (Condition.DUST, [*_r(30, 35), *_r(6, 9)]),
    (Condition.MIST, [10]),
    (Condition.HAZE, _r(4, 5)),
    (None, [*_r(20, 29), *_r(0, 3), *_r(13, 16), *_r(18, 19)]),
)

# 초단기실황 PTY: 0 none, 1 rain, 2 rain/snow, 3 snow, 5 drizzle, 6 drizzle/snow flurries,
# 7 snow flurries (4, shower, is a 단기예보 code kept for its meaning).
PTY_WORDS: dict[int, Condition] = {
    1: Condition.RAIN,
    2: Condition.SLEET,
    3: Condition.SNOW,
    4: Condition.SHOWER,
    5: Condition.RAIN,
    6: Condition.SLEET,
    7: Condition.SNOW,
}
# 초단기예보 SKY: 1 clear, 3 mostly cloudy, 4 overcast.
SKY_WORDS: dict[int, Condition] = {
    1: Condition.CLEAR,
    3: Condition.MOSTLY_CLOUDY,
    4: Condition.OVERCAST,
}


def condition_from_wc(wc: int) -> Condition | None:
    """Map a WMO 4677 present-weather code to a word, or None to go on."""
    return WC_WORDS.get(wc)


def condition_from_cloud(ca_tot: int) -> Condition | None:
    """Map total cloud amount in tenths (0-10) to a sky word."""
    if 0 <= ca_tot <= 2:
        return Condition.CLEAR
    if 3 <= ca_tot <= 5:
        return Condition.PARTLY_CLOUDY
    if 6 <= ca_tot <= 8:
        return Condition.MOSTLY_CLOUDY
    if 9 <= ca_tot <= 10:
        return Condition.OVERCAST
    return None


def precipitation_word(ta: float | None) -> Condition | None:
    """Rain at 1 ℃ and above, snow at -1 ℃ and below, sleet between; None without a temperature."""
    if ta is None:
        return None
    if ta >= 1.0:
        return Condition.RAIN
    if ta <= -1.0:
        return Condition.SNOW
    return Condition.SLEET


def decide(
    *,
    wc: int | None,
    ca_tot: int | None,
    ta: float | None,
    observed_at: datetime | None = None,
    sensor: SensorReading | None = None,
    pty: int | None = None,
    pty_at: datetime | None = None,
    sky: int | None = None,
    sky_at: datetime | None = None,
) -> Word | None:
    """The weather word from the evidence, first rule that applies (ARCHITECTURE "Weather words").

    1. WC -> observed. 2. Precipitation now: the minute data -> sensor, where it is unknown the
    nowcast PTY -> analysis. 3. CA_TOT -> observed, where it is missing the forecast SKY ->
    forecast. 4. None. An hourly RN amount alone never makes a word.
    """
    if wc is not None:
        word = condition_from_wc(wc)
        if word is not None:
            return Word(word, ConditionSource.OBSERVED, observed_at)
    if sensor is not None and sensor.precipitating is not None:
        if sensor.precipitating:
            wet = precipitation_word(sensor.temperature_c if sensor.temperature_c is not None else ta)
            if wet is not None:
                return Word(wet, ConditionSource.SENSOR, sensor.at)
    elif pty is not None and pty in PTY_WORDS:
        return Word(PTY_WORDS[pty], ConditionSource.ANALYSIS, pty_at)
    if ca_tot is not None:
        cloud = condition_from_cloud(ca_tot)
        if cloud is not None:
            return Word(cloud, ConditionSource.OBSERVED, observed_at)
    if sky is not None and sky in SKY_WORDS:
        return Word(SKY_WORDS[sky], ConditionSource.FORECAST, sky_at)
    return None


def derive_condition(
    *,
    wc: int | None,
    ta: float | None,
    ca_tot: int | None,
    rn: float | None = None,
) -> Condition | None:
    """The word an ASOS row alone supports (WC, then CA_TOT). ``rn`` is accepted and ignored:
    an hourly or 3-hourly amount says what fell, not what is falling."""
    del rn
    word = decide(wc=wc, ca_tot=ca_tot, ta=ta)
    return word.condition if word is not None else None
