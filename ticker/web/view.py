"""What a render shows: each configured station with its observation, staleness and warnings.

A ``View`` is computed once per snapshot and clock tick (``build_view``); every embed and the
JSON documents of ``/v1/observations`` and ``/v1/stations/{id}`` are made from it. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ticker.models import (
    KST,
    MAX_CLOCK_SKEW_S,
    SIM_SOURCE,
    Observation,
    ObservationsDocument,
    Station,
    StationObservation,
    attribution,
    date_label,
)
from ticker.weather import Condition
from ticker.wrn import WarningsStatus, WeatherWarning, covering, entry, status_at

# Sources other than the ASOS observation, marked in the widget: (ko, en) of what the value is.
MARKED_SOURCES = {"ultra_ncst": ("초단기실황(격자)", "KMA nowcast (grid)")}


def format_temperature(value: float) -> str:
    """One decimal and the degree sign; never "-0.0"."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


@dataclass(frozen=True)
class Item:
    """One station as the widget shows it."""

    station: Station
    observation: Observation | None
    stale: bool
    shown: bool  # False past the hard limit or with no data: left out of the widget
    warnings: tuple[WeatherWarning, ...] = ()  # in effect on the station's region, highest level first

    @property
    def condition(self) -> Condition | None:
        return self.observation.condition if self.observation else None

    def label(self, lang: str) -> str | None:
        return self.condition.label(lang) if self.condition else None

    def name(self, lang: str) -> str:
        return self.station.name_en if lang == "en" else self.station.name

    @property
    def temperature(self) -> str | None:
        obs = self.observation
        if obs is None or obs.temperature_c is None:
            return None
        return format_temperature(obs.temperature_c)

    @property
    def source(self) -> str | None:
        return self.observation.source if self.observation else None

    def source_note(self, lang: str) -> str | None:
        """What a value from a secondary source is, for its marker; None for ASOS values."""
        labels = MARKED_SOURCES.get(self.source or "")
        if labels is None:
            return None
        return labels[1] if lang == "en" else labels[0]

    @property
    def forecast_word(self) -> bool:
        """Whether the word comes from the forecast (marked quietly in the widget)."""
        obs = self.observation
        return obs is not None and self.condition is not None and obs.condition_source == "forecast"

    def word_note(self, lang: str) -> str | None:
        """The title of a forecast word: "예보 기준" and the issue time."""
        if not self.forecast_word or self.observation is None:
            return None
        at = self.observation.condition_at
        when = f" {at.astimezone(KST):%H:%M}" if at else ""
        return f"Forecast{when}" if lang == "en" else f"예보 기준{when}"

    @property
    def observed_local(self) -> str | None:
        obs = self.observation
        return obs.observed_at.astimezone(KST).strftime("%H:%M") if obs else None

    def sentence(self, lang: str) -> str:
        """The full sentence a screen reader announces for this station."""
        word = self.label(lang)
        when = self.observed_local or ""
        if lang == "en":
            if word and self.forecast_word:
                word += " (forecast)"
            parts = [f"{self.name(lang)}:", f"{word}," if word else ""]
            parts.append(f"{self.temperature} degrees Celsius, observed at {when}")
            text = " ".join(p for p in parts if p)
            return text + (", delayed report." if self.stale else ".") + self.warnings_sentence(lang)
        hh, _, mm = when.partition(":")
        if word and self.forecast_word:
            word += "(예보 기준)"
        head = f"{self.name(lang)} {word}," if word else f"{self.name(lang)},"
        text = f"{head} 기온 {self.temperature}도, {int(hh or 0)}시 {int(mm or 0)}분 관측"
        return text + (", 지연된 자료." if self.stale else ".") + self.warnings_sentence(lang)

    def warnings_sentence(self, lang: str) -> str:
        """' 기상특보: …' with every warning in full, or nothing."""
        if not self.warnings:
            return ""
        spoken = "; ".join(w.sentence(lang) for w in self.warnings)
        return f" Weather warnings: {spoken}." if lang == "en" else f" 기상특보: {spoken}."


@dataclass(frozen=True)
class View:
    """Everything a render needs, computed once per snapshot and clock tick."""

    now: datetime
    items: tuple[Item, ...]
    version: int
    warnings_status: WarningsStatus = "unknown"
    warnings: tuple[WeatherWarning, ...] = ()  # every warning shown (empty while the status is unknown)
    warnings_ok_at: datetime | None = None


def build_view(
    stations: Sequence[Station],
    observations: Mapping[int, Observation],
    now: datetime,
    *,
    version: int,
    hard_max_age_s: int,
    warnings: Sequence[WeatherWarning] = (),
    warnings_ok_at: float | None = None,
    warnings_max_age_s: float = 1800.0,
) -> View:
    """Pair each configured station with its observation and staleness, in configured order.

    Warnings are attached only while the feed answered within ``warnings_max_age_s``: an old
    list is never shown (a warning may have been lifted since).
    """
    status = status_at(warnings_ok_at, now, warnings_max_age_s)
    shown = tuple(warnings) if status == "ok" else ()
    items = []
    for station in stations:
        obs = observations.get(station.id)
        if obs is None:
            items.append(
                Item(station, None, stale=True, shown=False, warnings=covering(shown, station.warning_chain))
            )
            continue
        age = (now - obs.observed_at).total_seconds()
        if age < -MAX_CLOCK_SKEW_S:
            # Stamped after now: not an observation yet, whatever stored it. Never shown.
            items.append(Item(station, None, stale=True, shown=False))
            continue
        items.append(
            Item(
                station,
                obs,
                stale=age > station.max_age_s,
                shown=age <= hard_max_age_s and obs.temperature_c is not None,
                warnings=covering(shown, station.warning_chain),
            )
        )
    return View(
        now=now,
        items=tuple(items),
        version=version,
        warnings_status=status,
        warnings=shown,
        warnings_ok_at=None if warnings_ok_at is None else datetime.fromtimestamp(warnings_ok_at, KST),
    )


def observations_document(view: View, station_ids: Sequence[int] | None = None) -> ObservationsDocument:
    """The JSON document of GET /v1/observations."""
    wanted = None if station_ids is None else set(station_ids)
    rows = []
    for item in view.items:
        if wanted is not None and item.station.id not in wanted:
            continue
        rows.append(station_json(item, view.now, view.warnings_status))
    simulated = any(row.source == SIM_SOURCE for row in rows)
    return ObservationsDocument(
        generated_at=view.now.astimezone(KST).replace(microsecond=0),
        date_label=date_label(view.now),
        attribution=attribution([SIM_SOURCE] if simulated else [], "ko"),
        simulated=simulated,
        version=view.version,
        stations=rows,
        warnings_status=view.warnings_status,
    )


def station_json(item: Item, now: datetime, warnings_status: str = "ok") -> StationObservation:
    """One station in the JSON API; unknown values are null."""
    obs = item.observation
    st = item.station
    return StationObservation(
        id=st.id,
        name=st.name,
        name_en=st.name_en,
        observed_at=obs.observed_at.astimezone(KST) if obs else None,
        fetched_at=obs.fetched_at.astimezone(KST).replace(microsecond=0) if obs else None,
        temperature_c=obs.temperature_c if obs else None,
        condition=item.condition,
        condition_label=item.label("ko"),
        condition_source=obs.condition_source if obs and item.condition else None,
        condition_at=obs.condition_at.astimezone(KST)
        if obs and obs.condition_at and item.condition
        else None,
        humidity_pct=obs.humidity_pct if obs else None,
        wind_speed_ms=obs.wind_speed_ms if obs else None,
        wind_dir_deg=obs.wind_dir_deg if obs else None,
        precipitation_mm=obs.precipitation_mm if obs else None,
        source=obs.source if obs else None,
        age_s=max(0, int((now - obs.observed_at).total_seconds())) if obs else None,
        stale=item.stale,
        warnings_status=warnings_status,
        warnings=[entry(w, [st.id]) for w in item.warnings],
    )
