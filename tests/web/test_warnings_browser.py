"""Warnings in headless Chromium, through the running service with the fake Hub.

The script embed shows the badge like the fragment and the frame; the strip with two warnings is
photographed in the light and the dark theme (artifacts/, copied to docs/ for the notes), and the
badge colours Chromium computes are the checked palette.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry

from tests.conftest import ROOT, FixedClock
from tests.support.cdp import find, text
from tests.support.helpers import front_door_server, served, wait_for, web_app
from tests.support.kma_data import save_as_kma
from tests.support.ops_support import has_cycle
from tests.support.warnings_support import (
    DAEGU_PARENT_RAIN,
    HEAT,
    KEY,
    SEOUL_HEAT_WARNING,
    WIND_AHEAD,
    hub_settings,
)
from ticker.app import WARNINGS_POLLER, create_app
from ticker.config import Settings
from ticker.models import Station
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.web import keys
from ticker.web.warnings_view import PALETTE, contrast

pytestmark = pytest.mark.timeout(120)

ARTIFACTS = ROOT / "artifacts"


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture
async def service(
    settings: Settings, stations: list[Station], store: Store, clock: FixedClock
) -> AsyncIterator[TestServer]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as hub:
        hub.set_warnings([SEOUL_HEAT_WARNING, DAEGU_PARENT_RAIN])
        app = create_app(
            hub_settings(settings, hub.base_url), stations=stations, redis=store.redis, clock=clock,
            registry=CollectorRegistry(), snapshot_check_s=3600,
        )  # fmt: skip
        server = front_door_server(app)
        await server.start_server()
        try:
            await wait_for(lambda: has_cycle(store), what="the first poll cycle")
            assert (await app[WARNINGS_POLLER].run_once()).outcome == "ok"
            await app[keys.LIVE].refresh(store)
            yield server
        finally:
            await server.close()


async def test_script_embed_shows_the_badge_and_the_strip_is_photographed(service, browser):
    page = await browser.new_page()
    await page.goto(str(service.make_url("/demo")))
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        node = find(await page.document(), "id", "script")
        shown = "" if node is None else text(node)
        if "폭염경보" in shown or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert "서울" in shown and "폭염경보" in shown and "호우주의보" in shown
    assert "기상특보 2곳" in shown
    assert page.errors() == []

    for theme in ("light", "dark"):
        strip = await browser.new_page(width=1400, height=40)
        await strip.send(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
        )
        await strip.goto(str(service.make_url(f"/widget/frame?theme={theme}")))
        colours = await strip.evaluate(
            "[...document.querySelectorAll('.kt-st .kt-wrn')].map(e => {"
            " const s = getComputedStyle(e); return [e.textContent, s.color, s.backgroundColor]; })"
        )
        assert colours == [
            ["폭염경보", _rgb(PALETTE["경보"][theme].fg), _rgb(PALETTE["경보"][theme].bg)],
            ["호우주의보", _rgb(PALETTE["주의"][theme].fg), _rgb(PALETTE["주의"][theme].bg)],
        ]
        assert contrast(PALETTE["경보"][theme].fg, PALETTE["경보"][theme].bg) >= 4.5
        # Both warnings are in view on a 1400 px strip (before the view's faded edge), after the summary.
        right = await strip.evaluate(
            "Math.max(...[...document.querySelectorAll('.kt-st .kt-wrn')].map(e => e.getBoundingClientRect().right))"
        )
        edge = await strip.evaluate("document.querySelector('.kt-view').getBoundingClientRect().right - 14")
        assert 0 < right <= edge
        assert strip.errors() == []
        shot = ARTIFACTS / f"warnings-{theme}.png"
        await strip.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_list_layout_heads_with_the_summary_and_long_badges_never_cover_a_name(
    settings, stations, store, clock, browser
):
    """A narrow English list with a long preliminary badge: the header says how many places are
    under a warning, and in every row the name and temperature stay whole (the word and the
    badge give way, with an ellipsis)."""
    await save_as_kma(stations, store, clock)
    await store.save_warnings([HEAT, WIND_AHEAD], clock())
    async with served(web_app(settings, stations, store, clock)) as server:
        page = await browser.new_page(width=360, height=140)
        await page.goto(str(server.make_url("/widget/frame?layout=list&lang=en&stations=105,108,133")))
        head = await page.evaluate("document.querySelector('.kt-head').innerText")
        assert "Warnings in 2 places" in head and "Source: KMA" in head
        rows = await page.evaluate(
            "[...document.querySelectorAll('.kt-st')].map(li => {"
            " const box = e => e ? e.getBoundingClientRect().toJSON() : null;"
            " const name = li.querySelector('.kt-name');"
            " return {li: box(li), name: box(name), temp: box(li.querySelector('.kt-temp')),"
            " badge: box(li.querySelector('.kt-wrn')), nameWhole: name.scrollWidth <= name.clientWidth}; })"
        )
        assert len(rows) == 3
        for row in rows:
            assert row["nameWhole"], row
            boxes = [b for b in (row["name"], row["temp"], row["badge"]) if b is not None]
            for b in boxes:  # inside the row
                assert row["li"]["left"] <= b["left"] and b["right"] <= row["li"]["right"] + 0.5, row
            for a, b in itertools.combinations(sorted(boxes, key=lambda b: b["left"]), 2):
                assert a["right"] <= b["left"] + 0.5, row  # side by side, never on top of each other
        assert page.errors() == []
        await page.screenshot(ARTIFACTS / "warnings-list-360-en.png")
