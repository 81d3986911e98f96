"""Weather words: the condition vocabulary and its derivation from an observation."""

from __future__ import annotations

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

# WMO 4677 present-weather ranges, checked in this order (first match wins).
_WC_RULES: tuple[tuple[range, Condition], ...] = (
    (range(91, 100), Condition.THUNDERSTORM),
    (range(17, 18), Condition.THUNDERSTORM),
    (range(85, 87), Condition.SNOW),
    (range(80, 85), Condition.SHOWER),
    (range(87, 91), Condition.SHOWER),
    (range(70, 80), Condition.SNOW),
    (range(68, 70), Condition.SLEET),
    (range(50, 68), Condition.RAIN),
    (range(40, 50), Condition.FOG),
    (range(10, 13), Condition.MIST),
    (range(4, 6), Condition.HAZE),
    (range(6, 10), Condition.DUST),
)


def condition_from_wc(wc: int) -> Condition | None:
    """Map a WMO 4677 present-weather code to a word, or None to go on."""
    for codes, word in _WC_RULES:
        if wc in codes:
            return word
    return None


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


def derive_condition(
    *,
    wc: int | None,
    rn: float | None,
    ta: float | None,
    ca_tot: int | None,
) -> Condition | None:
    """Derive the weather word from WC, then RN with TA, then CA_TOT; None when nothing supports one."""
    if wc is not None:
        word = condition_from_wc(wc)
        if word is not None:
            return word
    if rn is not None and rn > 0 and ta is not None:
        if ta >= 1.0:
            return Condition.RAIN
        if ta <= -1.0:
            return Condition.SNOW
        return Condition.SLEET
    if ca_tot is not None:
        return condition_from_cloud(ca_tot)
    return None
