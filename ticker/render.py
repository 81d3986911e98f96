"""The jinja2 environment (autoescape on) and pure render functions. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import jinja2

from ticker.models import (
    ATTRIBUTION,
    KST,
    Observation,
    ObservationsDocument,
    Station,
    StationObservation,
    date_label,
)
from ticker.weather import Condition

ATTRIBUTION_EN = "Source: KMA"
# Sources other than the ASOS observation, marked in the widget: (ko, en) of what the value is.
MARKED_SOURCES = {"ultra_ncst": ("초단기실황(격자)", "KMA nowcast (grid)")}

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ticker", "templates"),
    autoescape=True,  # every template, whatever its extension
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


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
    def observed_local(self) -> str | None:
        obs = self.observation
        return obs.observed_at.astimezone(KST).strftime("%H:%M") if obs else None


@dataclass(frozen=True)
class View:
    """Everything a render needs, computed once per snapshot and clock tick."""

    now: datetime
    items: tuple[Item, ...]
    version: int


def build_view(
    stations: Sequence[Station],
    observations: Mapping[int, Observation],
    now: datetime,
    *,
    version: int,
    hard_max_age_s: int,
) -> View:
    """Pair each configured station with its observation and staleness, in configured order."""
    items = []
    for station in stations:
        obs = observations.get(station.id)
        if obs is None:
            items.append(Item(station, None, stale=True, shown=False))
            continue
        age = (now - obs.observed_at).total_seconds()
        items.append(
            Item(
                station,
                obs,
                stale=age > station.max_age_s,
                shown=age <= hard_max_age_s and obs.temperature_c is not None,
            )
        )
    return View(now=now, items=tuple(items), version=version)


def observations_document(view: View, station_ids: Sequence[int] | None = None) -> ObservationsDocument:
    """The JSON document of GET /v1/observations."""
    wanted = None if station_ids is None else set(station_ids)
    rows = []
    for item in view.items:
        if wanted is not None and item.station.id not in wanted:
            continue
        rows.append(station_json(item, view.now))
    return ObservationsDocument(
        generated_at=view.now.astimezone(KST).replace(microsecond=0),
        date_label=date_label(view.now),
        attribution=ATTRIBUTION,
        version=view.version,
        stations=rows,
    )


def station_json(item: Item, now: datetime) -> StationObservation:
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
        humidity_pct=obs.humidity_pct if obs else None,
        wind_speed_ms=obs.wind_speed_ms if obs else None,
        wind_dir_deg=obs.wind_dir_deg if obs else None,
        precipitation_mm=obs.precipitation_mm if obs else None,
        source=obs.source if obs else None,
        age_s=int((now - obs.observed_at).total_seconds()) if obs else None,
        stale=item.stale,
    )


def render_widget(view: View, *, lang: str = "ko") -> str:
    """The HTML fragment for SSI/ESI or direct insertion."""
    return ENV.get_template("widget.html").render(
        view=view,
        items=[i for i in view.items if i.shown],
        lang=lang,
        date_label=date_label(view.now, lang),
        attribution=ATTRIBUTION_EN if lang == "en" else ATTRIBUTION,
    )
