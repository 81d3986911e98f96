"""Pure rendering: escaping, icons, screen-reader sentences, motion and placeholders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.helpers import parse_widget
from ticker.models import Observation
from ticker.weather import Condition
from ticker.web.render import Variant, render_frame, render_widget
from ticker.web.view import build_view


def _obs(
    station_id: int,
    now,
    condition: Condition | None = Condition.CLEAR,
    age_min: int = 5,
    temp: float = 21.5,
) -> Observation:
    at = now - timedelta(minutes=age_min)
    return Observation(
        station_id=station_id,
        observed_at=at,
        fetched_at=at,
        source="sim",
        temperature_c=temp,
        condition=condition,
    )


def test_station_names_are_escaped(stations, clock):
    evil = stations[0].model_copy(update={"name": '<img src=x onerror="alert(1)">'})
    view = build_view([evil], {evil.id: _obs(evil.id, clock())}, clock(), version=1, hard_max_age_s=3600)
    html = render_widget(view)
    assert "<img" not in html and "&lt;img" in html


@pytest.mark.parametrize("condition", list(Condition))
def test_every_weather_word_has_an_icon(stations, clock, condition):
    st = stations[0]
    view = build_view([st], {st.id: _obs(st.id, clock(), condition)}, clock(), version=1, hard_max_age_s=3600)
    html = render_widget(view, variant=Variant(icons="on"))
    assert html.count('<svg class="kt-icon"') == 1
    assert html.count(f'<symbol id="kt-{condition.value}">') == 1
    assert parse_widget(html).lines() == [f"{condition.label_ko} {st.name} 21.5℃"]
    # Without icons=on (the default) the same station is the same text, and no SVG at all.
    plain = render_widget(view)
    assert "<svg" not in plain and "kt-icon" not in plain and "kt-defs" not in plain
    assert parse_widget(plain).lines() == parse_widget(html).lines()


def test_screen_reader_sentences(stations, clock):
    st = stations[0]
    view = build_view([st], {st.id: _obs(st.id, clock())}, clock(), version=1, hard_max_age_s=3600)
    item = view.items[0]
    assert item.sentence("ko") == f"{st.name} 맑음, 기온 21.5도, 15시 0분 관측."
    assert item.sentence("en") == f"{st.name_en}: Clear, 21.5 degrees Celsius, observed at 15:00."


def test_scrolling_has_a_pause_control_and_each_station_once(stations, clock):
    now = clock()
    obs = {s.id: _obs(s.id, now) for s in stations}
    html = render_widget(build_view(stations, obs, now, version=1, hard_max_age_s=3600))
    assert 'class="kt-toggle"' in html and "kt-scroll" in html and "kt-roll" in html
    assert "prefers-reduced-motion" in html
    assert html.count('class="kt-st"') == len(parse_widget(html).stations) == len(stations)
    # Two stations stand still on a wide strip but roll on a narrow one: the pause control is
    # there, shown only when narrow.
    few = stations[:2]
    html = render_widget(build_view(few, obs, now, version=1, hard_max_age_s=3600))
    assert "kt-scroll" not in html and "kt-roll" in html and 'class="kt-toggle"' in html
    assert ".kma-ticker .kt-toggle{display:none}" in html
    one = render_widget(build_view(stations[:1], obs, now, version=1, hard_max_age_s=3600))
    assert "kt-toggle" not in one.split("</style>")[1]


def test_each_weather_word_is_drawn_once(stations, clock):
    now = clock()
    obs = {
        s.id: _obs(s.id, now, Condition.RAIN if i % 2 else Condition.CLEAR) for i, s in enumerate(stations)
    }
    view = build_view(stations, obs, now, version=1, hard_max_age_s=3600)
    html = render_widget(view, variant=Variant(icons="on"))
    assert html.count("<symbol ") == 2
    assert html.count('<use href="#kt-rain"/>') == len(stations) // 2
    assert html.count('<use href="#kt-clear"/>') == len(stations) - len(stations) // 2


def test_stale_is_marked_and_too_old_is_left_out(stations, clock):
    now = clock()
    a, b = stations[0], stations[1]
    obs = {
        a.id: _obs(a.id, now, age_min=a.max_age_s // 60 + 10),
        b.id: _obs(b.id, now, age_min=7 * 60),
    }
    html = render_widget(build_view([a, b], obs, now, version=1, hard_max_age_s=6 * 3600))
    page = parse_widget(html)
    assert [s["id"] for s in page.stations] == [str(a.id)]
    assert "kt-stale" in page.stations[0]["class"] and "kt-late" in html


def test_no_data_shows_a_placeholder_in_every_layout(stations, clock):
    view = build_view(stations, {}, clock(), version=0, hard_max_age_s=3600)
    for layout in ("ticker", "list"):
        html = render_widget(view, variant=Variant(layout=layout))
        assert "kt-empty" in html.split("</style>")[1]
        assert parse_widget(html).date.strip() == "2025.07.28 (월)"


def test_frame_is_a_complete_page_without_script(stations, clock):
    view = build_view(stations, {}, clock(), version=0, hard_max_age_s=3600)
    html = render_frame(view, Variant(lang="en", theme="dark"))
    assert html.startswith("<!doctype html>") and "<script" not in html
    assert 'lang="en"' in html and "kt-dark" in html
