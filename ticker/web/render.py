"""The jinja2 environment (autoescape on) and pure render functions. No I/O here."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol
from urllib.parse import quote

import jinja2

from ticker.freshness import human_age
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
from ticker.web.amp import AmpDocument, AmpItem, AmpStation, AmpWarning
from ticker.web.warnings_view import badge_css, level_class, summary
from ticker.wrn import WarningsStatus, WeatherWarning, covering, entry, status_at

# Sources other than the ASOS observation, marked in the widget: (ko, en) of what the value is.
MARKED_SOURCES = {"ultra_ncst": ("초단기실황(격자)", "KMA nowcast (grid)")}

LANGS = ("ko", "en")
THEMES = ("light", "dark", "auto")
LAYOUTS = ("ticker", "list")

# Heights every embed reserves up front, so nothing on the host page moves when data arrives.
TICKER_HEIGHT_PX = 40
LIST_ROW_PX = 28
# Below this many stations the ticker stands still: scrolling two names looks broken.
MIN_SCROLLING = 4
SCROLL_S_PER_STATION = 4
# The first pass scrolls the list once from where it stands; then each pass enters from the
# right edge, which is about this much longer a way at the same speed (the strip's own width).
LOOP_STRETCH = 1.4
# Narrow strips (phones) roll one station at a time, vertically, each shown this long.
ROLL_S_PER_STATION = 3
NARROW_PX = 600  # the strip's own width below which it rolls; a container query, not the viewport

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ticker.web", "templates"),
    autoescape=True,  # every template, whatever its extension
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _kst(value: datetime | None, now: datetime | None = None) -> str:
    """KST clock time; with the date when it is not today's."""
    if value is None:
        return "-"
    local = value.astimezone(KST)
    if now is not None and local.date() == now.astimezone(KST).date():
        return local.strftime("%H:%M:%S") if local.second else local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


ENV.filters["kst"] = _kst
ENV.filters["age"] = human_age
ENV.globals["warning_level_class"] = level_class
ENV.globals["warning_badge_css"] = badge_css()

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


class Variant(NamedTuple):
    """What a reader asked for, normalised: the cache key of a rendered widget."""

    lang: str = "ko"
    theme: str = "light"
    layout: str = "ticker"
    stations: tuple[int, ...] | None = None  # None: every configured station


DEFAULT_VARIANT = Variant()


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


def short_date_label(label: str) -> str:
    """The date line of a narrow strip: "2025.07.28 (월)" becomes "07.28(월)"."""
    return label[5:].replace(" ", "")


def reserved_height(layout: str, requested: int) -> int:
    """The fixed pixel height of a widget: one line, or a header plus one row per station."""
    if layout == "list":
        return TICKER_HEIGHT_PX + LIST_ROW_PX * requested
    return TICKER_HEIGHT_PX


def _context(view: View, variant: Variant) -> dict[str, object]:
    wanted = None if variant.stations is None else set(variant.stations)
    chosen = [i for i in view.items if wanted is None or i.station.id in wanted]
    items = [i for i in chosen if i.shown]
    lang = variant.lang
    scrolling = variant.layout == "ticker" and len(items) >= MIN_SCROLLING
    label = date_label(view.now, lang)
    warning_summary = summary([(i.name(lang), i.warnings) for i in items], lang)
    conditions: list[str] = []
    for item in items:
        if item.condition is not None and item.condition.value not in conditions:
            conditions.append(item.condition.value)
    # Simulated values never go out under KMA's name.
    credit = attribution((i.source for i in chosen), lang)
    t = _TEXT["en" if lang == "en" else "ko"]
    stations_text = " · ".join(item_text(i, lang) for i in items) or t["empty"]
    return {
        "view": view,
        "items": items,
        "text_line": f"{label} {stations_text} · {credit}",
        "lang": lang,
        "theme": variant.theme,
        "layout": variant.layout,
        "scrolling": scrolling,
        "requested": len(chosen),
        "height": reserved_height(variant.layout, len(chosen)),
        # A narrow strip rolls whenever there is more than one station to show.
        "rolling": variant.layout == "ticker" and len(items) > 1,
        "duration_s": len(items) * SCROLL_S_PER_STATION,
        "loop_s": round(len(items) * SCROLL_S_PER_STATION * LOOP_STRETCH, 1),
        "roll_s": ROLL_S_PER_STATION,
        "narrow_px": NARROW_PX,
        "conditions": conditions,
        "stale": any(i.stale for i in items),
        # Text only screen readers hear (.kt-sr): warnings in full, "forecast" after a word.
        "spoken_notes": bool(warning_summary) or any(i.warnings or i.forecast_word for i in items),
        "alt": any(i.source_note(lang) for i in items),
        "date_label": label,
        "short_date": short_date_label(label),
        "attribution": credit,
        "t": t,
        "warning_summary": warning_summary,
        # Rows a narrow strip rolls through: the warnings summary, if any, then each station.
        "rows": len(items) + (1 if warning_summary else 0),
        "has_warnings": any(i.warnings for i in items),
    }


_TEXT = {
    "ko": {
        "region": "전국 날씨",
        "pause": "날씨 흐름 멈춤",
        "late": "관측",
        "empty": "날씨 정보를 준비하고 있습니다",
        "title": "날씨",
    },
    "en": {
        "region": "Weather across Korea",
        "pause": "Pause the weather ticker",
        "late": "obs.",
        "empty": "Weather data is not available yet",
        "title": "Weather",
    },
}


def render_widget(view: View, *, lang: str = "ko", variant: Variant | None = None) -> str:
    """The HTML fragment for SSI/ESI or direct insertion."""
    chosen = variant or Variant(lang=lang)
    return ENV.get_template("widget.html").render(**_context(view, chosen))


SVG_WIDTH_PX = 360
SVG_COLORS = {
    "light": {"fg": "#1f2933", "bg": "#ffffff", "line": "#e1e5ea", "muted": "#616e7c", "accent": "#0b5cad"},
    "dark": {"fg": "#e4e7eb", "bg": "#17202a", "line": "#33404d", "muted": "#9aa5b1", "accent": "#7cc4fa"},
}
SVG_THEMES = tuple(SVG_COLORS)  # a picture cannot follow the reader's colour scheme


def item_text(item: Item, lang: str) -> str:
    """One station as plain text: "맑음 서울 27.4℃", with the observation time when stale."""
    word = item.label(lang)
    text = f"{item.name(lang)} {item.temperature}℃"
    if word:
        text = f"{word} {text}"
    if item.stale:
        late = _TEXT["en" if lang == "en" else "ko"]["late"]
        text += f" ({item.observed_local} {late})"
    return text


def render_text(view: View, variant: Variant) -> str:
    """The ticker as one line of plain text (terminals, SMS, alt text), ending in a newline."""
    ctx = _context(view, variant)
    return str(ctx["text_line"]) + "\n"


def render_svg(view: View, variant: Variant) -> str:
    """The ticker as a self-contained SVG picture, its text as text: a header and a row per station."""
    ctx = _context(view, variant)
    rows = max(1, len(ctx["items"]))  # type: ignore[arg-type]
    return ENV.get_template("widget.svg").render(
        svg_width=SVG_WIDTH_PX,
        row_px=LIST_ROW_PX,
        colors=SVG_COLORS[variant.theme],
        **{**ctx, "height": TICKER_HEIGHT_PX + LIST_ROW_PX * rows},
    )


def oembed_href(public_url: str | None, page: str, variant: Variant) -> str | None:
    """The oEmbed discovery URL of one of this service's pages, when its public URL is known."""
    if public_url is None:
        return None
    url = f"{public_url}{page}{variant_query(variant)}"
    return f"{public_url}/oembed?url={quote(url, safe='')}&format=json"


def amp_document(view: View, variant: Variant) -> AmpDocument:
    """The JSON an AMP page's amp-list renders with amp-mustache: one item, the whole strip."""
    ctx = _context(view, variant)
    lang = variant.lang
    late = _TEXT["en" if lang == "en" else "ko"]["late"]
    items: list[Item] = ctx["items"]  # type: ignore[assignment]
    stations = [
        AmpStation(
            id=i.station.id,
            condition=i.condition.value if i.condition else None,
            word=i.label(lang),
            name=i.name(lang),
            temperature=i.temperature,
            late=f"{i.observed_local} {late}" if i.stale else None,
            warnings=[
                AmpWarning(
                    label=w.label(lang), rank=max(0, w.rank), period=w.period(lang) if w.preliminary else None
                )
                for w in i.warnings
            ],
        )
        for i in items
    ]
    lead = ctx["warning_summary"]
    item = AmpItem(
        date=str(ctx["date_label"]),
        attribution=str(ctx["attribution"]),
        text=str(ctx["text_line"]),
        warning_summary=lead[0] if isinstance(lead, tuple) else None,
        stations=stations,
    )
    return AmpDocument(items=[item])


def render_frame(view: View, variant: Variant, *, public_url: str | None = None) -> str:
    """A complete small page for <iframe> embedding; it runs no script."""
    return ENV.get_template("frame.html").render(
        oembed=oembed_href(public_url, "/widget/frame", variant), **_context(view, variant)
    )


def render_demo(view: View, variant: Variant, *, script: ScriptRef, public_url: str | None = None) -> str:
    """The demo page: the same ticker embedded by inclusion, by iframe and by script."""
    ctx = _context(view, variant)
    return ENV.get_template("demo.html").render(
        query=variant_query(variant),
        frame_height=ctx["height"],
        script=script,
        oembed=oembed_href(public_url, "/demo", variant),
        **ctx,
    )


BUILDER_KINDS = (
    ("ssi", "Server-side include (SSI/ESI)",
     "For pages your server assembles: nginx ssi on, or an ESI-capable CDN."),
    ("iframe", "iframe", "Any page or CMS that takes HTML; the frame runs no script."),
    ("script", "Script", "Renders in place, always the current release."),
    ("pinned", "Pinned script (Subresource Integrity)", "Runs only these exact bytes; update it on upgrade."),
    ("element", "Custom element <kma-ticker>",
     "Styled with CSS custom properties and ::part(); the include inside is what readers see "
     "without JavaScript."),
    ("oembed", "oEmbed URL",
     "For a CMS that embeds by URL: it fetches this and inserts the iframe it answers."),
    ("amp", "AMP (amp-list + amp-mustache)",
     "For AMP pages: add your page's origin to TICKER_AMP_ORIGINS; style the .kt classes in your "
     "amp-custom CSS (theme and layout are yours there)."),
)  # fmt: skip


def render_builder(
    stations: Sequence[Station], *, script: ScriptRef, element_path: str, public_url: str | None
) -> str:
    """The embed builder page: choices, a live preview and a snippet for each embed kind."""
    return ENV.get_template("builder.html").render(
        stations=stations,
        script=script,
        element_path=element_path,
        origin=public_url or "",
        themes=THEMES,
        layouts=LAYOUTS,
        kinds=BUILDER_KINDS,
        row_px=LIST_ROW_PX,
        ticker_px=TICKER_HEIGHT_PX,
    )


class ScriptRef(Protocol):
    """Where the pinned script is and the SRI value that goes with it."""

    @property
    def path(self) -> str: ...

    @property
    def integrity(self) -> str: ...


def variant_query(variant: Variant) -> str:
    """The canonical query string of a variant (defaults left out), with a leading '?' if any."""
    parts = [
        f"{name}={value}"
        for name, value, default in (
            ("lang", variant.lang, DEFAULT_VARIANT.lang),
            ("theme", variant.theme, DEFAULT_VARIANT.theme),
            ("layout", variant.layout, DEFAULT_VARIANT.layout),
        )
        if value != default
    ]
    if variant.stations is not None:
        parts.append("stations=" + ",".join(str(s) for s in variant.stations))
    return "?" + "&".join(parts) if parts else ""


def style_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for every <style> element of a page."""
    out = []
    for body in _STYLE.findall(html):
        digest = hashlib.sha256(body.encode()).digest()
        out.append("'sha256-" + base64.b64encode(digest).decode() + "'")
    return out
