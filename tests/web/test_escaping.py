"""Hostile station names come out inert in the fragment, the frame, the script embed and the JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticker.models import Observation, Station
from ticker.weather import Condition
from ticker.web.render import Variant, render_frame, render_widget
from ticker.web.routes import inert_json
from ticker.web.scripts import load_embed_js
from ticker.web.view import build_view, observations_document, station_json

NOW = datetime(2025, 7, 28, 6, 5, tzinfo=UTC)
NASTY = [
    "<script>alert(1)</script>",
    "</script><script>x()</script>",
    '"><img src=x onerror=alert(1)>',
    "'",
    '"',
    "&amp;",
    "<!--",
    "]]>",
    "</style>",
    "<svg/onload=x>",
    "{{7*7}}",
    "\u2028",
    "`${x}`",
]


class Structure(HTMLParser):
    """Tags, attribute names and the text of every kt-name span."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: set[str] = set()
        self.names: list[str] = []
        self._in_name = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.update(a for a, _ in attrs)
        if ("class", "kt-name") in attrs:
            self._in_name += 1
            self.names.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._in_name:
            self._in_name -= 1

    def handle_data(self, data: str) -> None:
        if self._in_name:
            self.names[-1] += data


def _station(name: str, name_en: str) -> Station:
    return Station(
        id=108,
        name=name,
        name_en=name_en,
        lat=37.57142,
        lon=126.9658,
        alt_m=85.67,
        nx=60,
        ny=127,
        max_age_s=7200,
        expected_interval_s=3600,
    )


def _structure(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    parser.close()
    return parser


names = st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=40)).filter(str.strip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, name_en=names)
def test_hostile_names_are_inert_everywhere(name: str, name_en: str):
    obs = Observation(
        station_id=108,
        observed_at=NOW,
        fetched_at=NOW,
        source="sim",
        temperature_c=21.5,
        condition=Condition.RAIN,
    )
    benign = build_view([_station("서울", "Seoul")], {108: obs}, NOW, version=1, hard_max_age_s=21600)
    hostile = build_view([_station(name, name_en)], {108: obs}, NOW, version=1, hard_max_age_s=21600)
    for lang, expected in (("ko", name), ("en", name_en)):
        for layout in ("ticker", "list"):
            variant = Variant(lang=lang, layout=layout)
            for render in (
                lambda v, var=variant: render_widget(v, variant=var),
                lambda v, var=variant: render_frame(v, var),
            ):
                good, bad = _structure(render(benign)), _structure(render(hostile))
                # Same elements and attributes as with a harmless name: nothing was injected ...
                assert bad.tags == good.tags
                assert bad.attrs == good.attrs
                # ... and the name reads back exactly as text.
                assert bad.names and all(n == expected for n in bad.names)
    item = hostile.items[0]
    for raw in (inert_json(observations_document(hostile)), inert_json(station_json(item, NOW))):
        assert b"<" not in raw and b">" not in raw
        doc = json.loads(raw)
        found = doc["stations"][0] if "stations" in doc else doc
        assert (found["name"], found["name_en"]) == (name, name_en)


def test_the_script_embed_only_inserts_the_escaped_fragment():
    # embed.js carries no data of its own: it fetches /widget (escaped above) into a <template>,
    # whose scripts never run, and never evaluates or writes markup itself.
    js = load_embed_js(16).decode()
    assert "__TICKER_" not in js
    assert 'origin + "/widget"' in js and 'createElement("template")' in js
    for dangerous in ("eval(", "document.write", "new Function", "insertAdjacentHTML", "outerHTML"):
        assert dangerous not in js
