"""The three embeds in headless Chromium: same ticker, no console errors, no layout shift."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from tests.conftest import ROOT, FixedClock
from tests.support.cdp import Page, find, frame_text, text
from tests.support.helpers import poll_sim, served, web_app
from ticker.config import Settings
from ticker.models import Station
from ticker.store import Store

pytestmark = pytest.mark.timeout(120)

ARTIFACTS = ROOT / "artifacts"

CLS = """new Promise(resolve => {
  let total = 0;
  const po = new PerformanceObserver(list => list.getEntries().forEach(e => { total += e.value; }));
  po.observe({type: 'layout-shift', buffered: true});
  setTimeout(() => { po.takeRecords().forEach(e => { total += e.value; }); po.disconnect(); resolve(total); }, 300);
})"""


@pytest.fixture
async def ticker(settings: Settings, stations: list[Station], store: Store, clock: FixedClock):
    """The ticker as `ticker serve` serves it (through the front door), on the test's Redis."""
    await poll_sim(stations, store, clock)
    async with served(web_app(settings, stations, store, clock)) as server:
        yield server


async def _section_text(page: Page, section: str) -> str:
    doc = await page.document()
    node = find(doc, "id", section)
    return "" if node is None else text(node)


async def _until(what: str, check, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# Long animation frames name the scripts that ran in them, with their durations.
SLOW_SCRIPTS = """window.slowScripts = []; new PerformanceObserver(list => list.getEntries().forEach(frame =>
  frame.scripts.forEach(s => window.slowScripts.push([s.sourceURL, s.invoker, s.duration]))))
  .observe({type: "long-animation-frame", buffered: true});"""


LONG_TASK_MS = 50


async def slowest_of_loads(load: Callable[[], Awaitable[float]], loads: int = 3) -> list[float]:
    """The longest script time of each load (ms), loading again while it is over LONG_TASK_MS.

    A busy machine can stretch one load's frames; a script whose own work takes too long is over
    in every load. The test asserts on the least of them.
    """
    seen: list[float] = []
    while len(seen) < loads and (not seen or seen[-1] > LONG_TASK_MS):
        seen.append(await load())
    return seen


async def test_demo_page_shows_the_ticker_in_all_three_embeds(ticker, browser, stations):
    server = ticker
    page = await browser.new_page()
    await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": SLOW_SCRIPTS})

    async def script_rendered() -> bool:
        return "서울" in await _section_text(page, "script")

    async def load() -> float:
        await page.goto(str(server.make_url("/demo")))
        await _until("the script embed to render", script_rendered)
        slow = await page.evaluate("window.slowScripts")
        return max((s[2] for s in slow if "/embed." in s[0]), default=0.0)

    slowest = await slowest_of_loads(load)
    assert min(slowest) <= LONG_TASK_MS, slowest  # no long task from the script

    async def frame_rendered() -> str | None:
        # The frame loads on its own: read it once its whole strip is there.
        shown = await frame_text(browser, page, "iframe")
        return shown if all(s.name in shown for s in stations) else None

    texts = {
        "ssi": await _section_text(page, "ssi"),
        "iframe": await _until("the iframe to show every station", frame_rendered),
        "script": await _section_text(page, "script"),
    }
    for where, shown in texts.items():
        assert "2025.07.28 (월)" in shown, where
        # Simulated weather says so in every embed, never "기상청 제공".
        assert "모의 데이터 · 실제 날씨 아님" in shown and "기상청" not in shown, where
        for station in stations:
            assert station.name in shown, (where, station.name)
    assert page.errors() == []
    assert await page.evaluate(CLS) == 0
    assert (
        await page.evaluate("document.querySelector('[data-kma-ticker]').getBoundingClientRect().height")
        == 40
    )
    # One global namespace at most: the script defines none.
    assert await page.evaluate("Object.keys(window).filter(k => /ticker|kma/i.test(k)).length") == 0

    shot = ARTIFACTS / "browser-demo.png"
    await page.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_frame_applies_its_styles_under_its_own_csp_and_honours_reduced_motion(ticker, browser):
    server = ticker
    page = await browser.new_page(width=900, height=40)
    await page.goto(str(server.make_url("/widget/frame")))
    # The CSP allows the page's <style> elements by hash only: wrong hashes would leave it unstyled.
    assert await page.evaluate("document.querySelector('.kma-ticker').getBoundingClientRect().height") == 40
    track = "getComputedStyle(document.querySelector('.kt-track')).animationName"
    assert await page.evaluate(track) == "kt-scroll, kt-loop"  # one pass from rest, then loops
    await page.send(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
    )
    assert await page.evaluate(track) == "none"
    assert await page.evaluate("getComputedStyle(document.querySelector('.kt-toggle')).display") == "none"
    assert await page.evaluate("document.getAnimations().length") == 0
    assert page.errors() == []
    await page.screenshot(ARTIFACTS / "browser-frame-reduced-motion.png")


HOST_PAGE = """<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>Article</title>
<style>body{{margin:0;font:16px sans-serif}} h1{{margin:0;padding:20px}}</style></head><body>
<h1 id="headline">Headline of the article</h1>
<div style="min-height:40px"><script async src="{src}" data-timeout="800"></script></div>
<p id="after">First paragraph of the article.</p>
<script>document.addEventListener('DOMContentLoaded', () => {{
  window.firstTop = document.getElementById('after').getBoundingClientRect().top; }});</script>
</body></html>"""


async def test_script_embed_with_the_service_stopped_leaves_the_page_intact(aiohttp_server, ticker, browser):
    async with (
        ClientSession(timeout=ClientTimeout(total=10)) as http,
        http.get(ticker.make_url("/embed.js")) as resp,
    ):
        script = await resp.read()
    dead = str(ticker.make_url("/embed.js"))
    await ticker.close()  # the service is gone

    release = asyncio.Event()

    async def page_dead(request: web.Request) -> web.Response:
        return web.Response(text=HOST_PAGE.format(src=dead), content_type="text/html")

    async def page_cached(request: web.Request) -> web.Response:
        return web.Response(text=HOST_PAGE.format(src="/embed.js"), content_type="text/html")

    async def embed(request: web.Request) -> web.Response:
        # A cache still has the script, but the origin behind /widget no longer answers.
        return web.Response(body=script, content_type="text/javascript")

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=503)

    host = web.Application()
    host.router.add_get("/dead", page_dead)
    host.router.add_get("/cached", page_cached)
    host.router.add_get("/embed.js", embed)
    host.router.add_get("/widget", hang)
    host_server = await aiohttp_server(host)
    page = await browser.new_page()
    try:
        for path, failing in (("/dead", "/embed.js"), ("/cached", "/widget")):
            await page.goto(str(host_server.make_url(path)))
            failed = await browser.wait_event(page.session, "Network.loadingFailed", timeout=20)
            urls = {
                p["requestId"]: p["request"]["url"]
                for m, p in browser.events.get(page.session, [])
                if m == "Network.requestWillBeSent"
            }
            assert urls[failed["requestId"]].endswith(failing), (path, urls)
            assert page.exceptions() == [], path
            assert (
                await page.evaluate("document.getElementById('headline').textContent")
                == "Headline of the article"
            )
            top = await page.evaluate("document.getElementById('after').getBoundingClientRect().top")
            assert top == await page.evaluate("window.firstTop"), path
            assert await page.evaluate(CLS) == 0, path
            holder = await page.evaluate(
                "(() => { const h = document.querySelector('[data-kma-ticker]');"
                " return h ? h.getBoundingClientRect().height : null; })()"
            )
            assert holder == (None if path == "/dead" else 40), path
            await page.screenshot(ARTIFACTS / f"browser-service-stopped{path.replace('/', '-')}.png")
    finally:
        release.set()


PINNED_PAGE = """<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>Article</title>
<link rel="icon" href="data:,"></head><body>
<h1 id="headline">Headline of the article</h1>
<div style="min-height:40px"><script async src="{src}" integrity="{integrity}" crossorigin="anonymous"></script></div>
<p id="after">First paragraph of the article.</p>
</body></html>"""


async def test_pinned_script_runs_only_with_its_own_bytes(aiohttp_server, ticker, browser):
    """Subresource Integrity: a copy with one byte changed is refused; the genuine one renders."""
    async with ClientSession(timeout=ClientTimeout(total=10)) as http:
        async with http.get(ticker.make_url("/demo")) as resp:
            demo = await resp.text()
        async with http.get(ticker.make_url("/widget")) as resp:
            fragment = await resp.read()
        tag = re.search(r'<script async src="(/embed\.[0-9a-f]{16}\.js)" integrity="(sha384-[^"]+)"', demo)
        assert tag is not None, "the demo embeds the pinned script with its integrity"
        path, integrity = tag.groups()
        async with http.get(ticker.make_url(path)) as resp:
            genuine = await resp.read()
    tampered = genuine.replace(b"var TIMEOUT_MS = 3000;", b"var TIMEOUT_MS = 3001;")
    assert len(tampered) == len(genuine) and tampered != genuine

    def script(body: bytes):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="text/javascript")

        return handler

    async def page(request: web.Request) -> web.Response:
        src = "/" + request.match_info["copy"] + path
        return web.Response(text=PINNED_PAGE.format(src=src, integrity=integrity), content_type="text/html")

    async def widget(request: web.Request) -> web.Response:
        return web.Response(body=fragment, content_type="text/html")

    host = web.Application()  # a cache or CDN in between, serving the copies
    host.router.add_get("/page/{copy}", page)
    host.router.add_get("/genuine" + path, script(genuine))
    host.router.add_get("/tampered" + path, script(tampered))
    host.router.add_get("/widget", widget)
    host_server = await aiohttp_server(host)
    tab = await browser.new_page()
    holder = "document.querySelector('[data-kma-ticker]') !== null"

    await tab.goto(str(host_server.make_url("/page/genuine")))
    await _until("the genuine pinned script to render", lambda: _has(tab, holder))
    assert tab.errors() == []

    await tab.goto(str(host_server.make_url("/page/tampered")))
    await _until(
        "the tampered copy to be refused",
        lambda: _console_mentions(tab, "integrity"),
    )
    assert await tab.evaluate(holder) is False  # it never ran
    assert tab.exceptions() == []
    assert await tab.evaluate("document.getElementById('headline').textContent") == "Headline of the article"


async def _has(page: Page, expression: str) -> bool:
    return bool(await page.evaluate(expression))


async def _console_mentions(page: Page, word: str) -> bool:
    return any(word in e for e in page.errors())
