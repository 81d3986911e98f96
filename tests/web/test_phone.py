"""The strip at phone and tablet widths in headless Chromium: nothing clipped, every station in turn.

The layout follows the strip's own width (a container query), so the frame is loaded in
viewports of each width. Animations are paused and stepped through their timeline with the
Web Animations API, so the test reads positions at chosen instants instead of waiting.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.helpers import poll_sim, served, web_app
from tests.support.kma_data import save_as_kma
from tests.support.kma_data import ticker as ticker  # a fixture, used by name
from tests.support.warnings_support import HEAT, WIND_AHEAD
from tests.web.test_browser import ARTIFACTS, CLS
from ticker.web.render import NARROW_PX, ROLL_S_PER_STATION

pytestmark = pytest.mark.timeout(120)

# Steps every animation through one first pass and one full loop, and reports what was readable.
WALK = """(() => {
  const root = document.querySelector('.kma-ticker'), view = root.querySelector('.kt-view');
  const anims = document.getAnimations();
  anims.forEach(a => a.pause());
  const lis = [...root.querySelectorAll('.kt-st')];
  const fade = getComputedStyle(view).maskImage === 'none' ? 0 : 14;
  const within = (r, o, inset) => r.left >= o.left + inset - 0.5 && r.right <= o.right - inset + 0.5
    && r.top >= o.top - 0.5 && r.bottom <= o.bottom + 0.5;
  const end = Math.max(0, ...anims.map(a => { const t = a.effect.getComputedTiming(); return t.delay + t.duration; }));
  const order = [];
  let most = 0;
  for (let t = 0; t <= end; t += 100) {
    anims.forEach(a => { a.currentTime = t; });
    const vr = view.getBoundingClientRect();
    const whole = li => [li, ...li.children].filter(e => e.getClientRects().length)  // displayed ones
      .every(e => within(e.getBoundingClientRect(), vr, fade));
    const shown = lis.map((li, i) => whole(li) ? i : -1).filter(i => i >= 0);
    most = Math.max(most, shown.length);
    shown.forEach(i => { if (order[order.length - 1] !== i && !order.includes(i) || order[order.length - 1] !== i && i === 0) order.push(i); });
  }
  anims.forEach(a => { a.currentTime = 0; });
  const rr = root.getBoundingClientRect();
  const date = root.querySelector('.kt-date'), attr = root.querySelector('.kt-attr');
  return {
    n: lis.length, order, most, animations: anims.length,
    date: date.innerText, attr: attr.innerText,
    dateInside: within(date.getBoundingClientRect(), rr, 0),
    attrInside: within(attr.getBoundingClientRect(), rr, 0),
    height: rr.height,
  };
})()"""


@pytest.mark.parametrize(
    ("width", "lang"), [(360, "ko"), (390, "ko"), (768, "ko"), (360, "en"), (1024, "ko")]
)
async def test_every_station_readable_in_turn_at_each_width(ticker, browser, stations, width, lang):
    page = await browser.new_page(width=width, height=40)
    query = "?lang=en" if lang == "en" else ""
    await page.goto(str(ticker.make_url(f"/widget/frame{query}")))
    assert await page.evaluate(CLS) == 0
    await page.screenshot(ARTIFACTS / f"phone-{width}-{lang}.png")
    seen = await page.evaluate(WALK)
    assert seen["n"] == len(stations)
    assert seen["height"] == 40
    narrow = width < NARROW_PX
    assert sorted(set(seen["order"])) == list(range(len(stations))), seen  # each one, whole, at some time
    if narrow:
        assert seen["order"] == list(range(len(stations))), seen  # in order, one at a time
        assert seen["most"] == 1
        assert seen["date"] == ("07.28(Mon)" if lang == "en" else "07.28(월)")
    else:
        assert seen["date"] == ("2025.07.28 (Mon)" if lang == "en" else "2025.07.28 (월)")
    assert seen["attr"] == ("Source: KMA" if lang == "en" else "기상청 제공")
    assert seen["dateInside"] and seen["attrInside"], seen
    if narrow:  # halfway through the second station's roll, for the record
        await page.evaluate(
            f"document.getAnimations().forEach(a => {{ a.currentTime = {ROLL_S_PER_STATION * 1000 + 150}; }})"
        )
        await page.screenshot(ARTIFACTS / f"phone-{width}-{lang}-rolling.png")
    assert page.errors() == []


async def walk_frame(app, browser, width: int, lang: str, shot: str) -> tuple[dict[str, Any], list[str]]:
    """WALK over the frame of ``app`` at ``width``, a screenshot at the second station first."""
    async with served(app) as server:
        page = await browser.new_page(width=width, height=40)
        await page.goto(str(server.make_url(f"/widget/frame?lang={lang}")))
        seen = await page.evaluate(WALK)
        await page.evaluate(
            f"document.getAnimations().forEach(a => {{ a.currentTime = {2 * ROLL_S_PER_STATION * 1000 + 600}; }})"
        )
        await page.screenshot(ARTIFACTS / f"phone-{width}-{lang}-{shot}.png")  # before any assert
        return seen, page.errors()


@pytest.mark.parametrize(("width", "lang"), [(360, "ko"), (360, "en"), (390, "ko")])
async def test_the_longer_simulated_data_credit_leaves_every_station_readable(
    settings, stations, store, clock, browser, width, lang
):
    """With no key the credit says the weather is simulated: longer than 기상청 제공, it wraps
    instead of squeezing the rolling stations, and stays whole."""
    await poll_sim(stations, store, clock)
    app = web_app(settings, stations, store, clock)
    seen, errors = await walk_frame(app, browser, width, lang, "simulated")
    assert seen["order"] == list(range(len(stations))), seen  # each whole, in order, one at a time
    credit = "모의 데이터 · 실제 날씨 아님" if lang == "ko" else "Simulated data · not real weather"
    assert " ".join(seen["attr"].split()) == credit and seen["attrInside"], seen
    assert seen["height"] == 40 and errors == []


@pytest.mark.parametrize(("width", "lang"), [(360, "ko"), (360, "en"), (390, "ko")])
async def test_stations_under_warnings_roll_whole_with_their_badges(
    settings, stations, store, clock, browser, width, lang
):
    """A narrow strip with the warnings summary and a long preliminary badge (the second
    station, 강릉, in the screenshot): every station, badge included, is whole in the view at
    some step, in order."""
    await save_as_kma(stations, store, clock)
    await store.save_warnings([HEAT, WIND_AHEAD], clock())
    app = web_app(settings, stations, store, clock)
    seen, errors = await walk_frame(app, browser, width, lang, "warnings")
    assert seen["order"] == list(range(len(stations))), seen
    assert seen["dateInside"] and seen["attrInside"] and seen["height"] == 40, seen
    assert errors == []
