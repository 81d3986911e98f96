"""The jinja2 environment (autoescape on) and the embeds rendered from a ``View``. No I/O here."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol
from urllib.parse import quote

import jinja2

from ticker.freshness import human_age
from ticker.models import KST, SIM_SOURCE, Station, attribution, date_label
from ticker.web.amp import AmpDocument, AmpItem, AmpStation, AmpWarning
from ticker.web.view import Item, View
from ticker.web.warnings_view import PALETTE, badge_css, level_class, summary

LANGS = ("ko", "en")
THEMES = ("light", "dark", "auto")
LAYOUTS = ("ticker", "list")
# Weather icons beside the words: opt-in, because the default strip is kept within its weight
# budget (docs/embedding.md). The SVG picture always draws them.
ICONS = ("off", "on")

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
    icons: str = "off"


DEFAULT_VARIANT = Variant()


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
        "icons": variant.icons == "on",
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
        # The simulated-data credit is longer than KMA's: a narrow strip lets it wrap.
        "simulated": any(i.source == SIM_SOURCE for i in chosen),
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
    """One station as plain text: "맑음 서울 27.4℃ [폭염경보]", with the observation time when stale."""
    word = item.label(lang)
    text = f"{item.name(lang)} {item.temperature}℃"
    if word:
        text = f"{word} {text}"
    if item.warnings:
        text += f" [{', '.join(w.label_with_period(lang) for w in item.warnings)}]"
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
        warning_fill=lambda w: PALETTE[w.level][variant.theme].border if w.level in PALETTE else "#b42318",
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
        icons=ICONS,
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
            ("icons", variant.icons, DEFAULT_VARIANT.icons),
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
