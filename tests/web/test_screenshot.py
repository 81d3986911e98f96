"""The README's picture of the strip (docs/strip.png), taken in headless Chromium.

The picture is made from the simulated source at a fixed clock, as the service shows it without
a key (and so with the simulated-data label). ``TICKER_UPDATE_SCREENSHOT=1`` writes it into
docs/; otherwise the test takes it into artifacts/ and checks the committed one.
"""

from __future__ import annotations

import base64
import os
import struct

import pytest

from tests.conftest import ROOT
from tests.support.cdp import Browser
from tests.support.helpers import front_door_server, poll_sim, web_app

pytestmark = pytest.mark.timeout(120)

WIDTH, HEIGHT = 960, 40
COMMITTED = ROOT / "docs" / "strip.png"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_strip_as_the_readme_shows_it(settings, stations, store, clock, tmp_path):
    await poll_sim(stations, store, clock)
    server = front_door_server(web_app(settings, stations, store, clock))
    await server.start_server()
    browser = Browser(tmp_path / "profile")
    await browser.start()
    try:
        page = await browser.new_page(width=WIDTH, height=HEIGHT)
        # Reduced motion: the strip stands still, so the picture is the same at every run.
        await page.send(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
        )
        await page.goto(str(server.make_url("/widget/frame")))
        shown = await page.evaluate("document.body.innerText")
        assert "2025.07.28 (월)" in shown and "서울" in shown
        assert "모의 데이터 · 실제 날씨 아님" in shown  # simulated, and the picture says so
        shot = await page.send("Page.captureScreenshot", {"format": "png"})
        data = base64.b64decode(shot["data"])
    finally:
        await browser.close()
        await server.close()
    assert png_size(data) == (WIDTH, HEIGHT)
    if os.environ.get("TICKER_UPDATE_SCREENSHOT") == "1":
        COMMITTED.write_bytes(data)
    else:
        (ROOT / "artifacts").mkdir(exist_ok=True)
        (ROOT / "artifacts" / "strip.png").write_bytes(data)
    assert png_size(COMMITTED.read_bytes()) == (WIDTH, HEIGHT)
