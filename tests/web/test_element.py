"""<kma-ticker>: the custom element renders into its shadow root; without JavaScript its
server-rendered fallback shows; either way nothing on the page moves."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from tests.support.kma_data import ticker as ticker  # a fixture, used by name
from tests.web.test_browser import ARTIFACTS, CLS, LONG_TASK_MS, _until, slowest_of_loads
from ticker.web.scripts import ELEMENT_SCRIPT_PATH

pytestmark = pytest.mark.timeout(120)

PAGE = """<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>Article</title>
<link rel="icon" href="data:,">
<script>window.slowScripts = []; new PerformanceObserver(list => list.getEntries().forEach(frame =>
  frame.scripts.forEach(s => window.slowScripts.push([s.sourceURL, s.invoker, s.duration]))))
  .observe({{type: "long-animation-frame"}});</script>
<style>body{{margin:0;font:16px serif}} h1{{margin:0;padding:20px}} span{{color:red;font-size:40px}}
kma-ticker{{--kma-ticker-accent:rgb(200, 0, 100)}} kma-ticker::part(temp){{text-decoration:underline}}</style>
</head><body>
<h1 id="headline">Headline of the article</h1>
<kma-ticker stations="108,159" lang="ko">{fallback}</kma-ticker>
<script type="module" src="{origin}{script}"></script>
<p id="after">First paragraph.</p>
</body></html>"""

SHADOW = """(() => {
  const el = document.querySelector('kma-ticker');
  const root = el.shadowRoot;
  if (!root || !root.querySelector('.kma-ticker')) return null;
  const part = name => [...root.querySelectorAll(`[part~="${name}"]`)];
  return {
    text: root.querySelector('.kma-ticker').innerText,
    stations: part('station').length,
    accent: getComputedStyle(part('date')[0]).color,
    underline: getComputedStyle(part('temp')[0]).textDecorationLine,
    slot: root.querySelector('slot') !== null,
    icons: root.querySelectorAll('.kt-icon').length,
    height: el.getBoundingClientRect().height,
  };
})()"""


async def _host(aiohttp_server, ticker):
    origin = str(ticker.make_url("")).rstrip("/")
    async with (
        ClientSession(timeout=ClientTimeout(total=10)) as http,
        http.get(origin + "/widget?stations=108,159") as resp,
    ):
        fallback = await resp.text()

    async def page(request: web.Request) -> web.Response:
        body = PAGE.format(fallback=fallback, origin=origin, script=ELEMENT_SCRIPT_PATH)
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    return await aiohttp_server(app)


async def test_element_renders_into_its_shadow_root(aiohttp_server, ticker, browser):
    host = await _host(aiohttp_server, ticker)
    page = await browser.new_page(width=800, height=300)
    top, shown = 0.0, {}

    async def load() -> float:
        nonlocal top, shown
        await page.goto(str(host.make_url("/")))
        top = await page.evaluate("document.getElementById('after').getBoundingClientRect().top")
        shown = await _until("the element to render", lambda: page.evaluate(SHADOW))
        # Long animation frames name the scripts that ran in them.
        slow = await page.evaluate("window.slowScripts")
        return max((s[2] for s in slow if ELEMENT_SCRIPT_PATH in s[0]), default=0.0)

    slowest = await slowest_of_loads(load)
    assert min(slowest) <= LONG_TASK_MS, slowest  # none of the element's frames took 50 ms
    assert "서울" in shown["text"] and "부산" in shown["text"] and "대전" not in shown["text"]
    assert "기상청 제공" in shown["text"] and "2025.07.28 (월)" in shown["text"]
    assert shown["stations"] == 2 and not shown["slot"]
    assert shown["accent"] == "rgb(200, 0, 100)"  # a documented custom property
    assert shown["underline"] == "underline"  # a documented ::part
    assert shown["height"] == 40
    assert shown["icons"] == 0  # icons are opt-in
    # The page's own CSS (span{color:red}) does not reach inside.
    inner = (
        "getComputedStyle(document.querySelector('kma-ticker').shadowRoot.querySelector('.kt-name')).color"
    )
    assert await page.evaluate(inner) != "rgb(255, 0, 0)"
    assert await page.evaluate("document.getElementById('after').getBoundingClientRect().top") == top
    assert await page.evaluate(CLS) == 0
    assert page.errors() == []
    await page.screenshot(ARTIFACTS / "element-js.png")
    # Changing an attribute re-renders: icons="on" draws one icon per station, in the same height.
    await page.evaluate("document.querySelector('kma-ticker').setAttribute('icons', 'on')")

    async def with_icons() -> dict[str, object] | None:
        got = await page.evaluate(SHADOW)
        return got if got and got["icons"] == 2 else None

    drawn = await _until("the icons to be drawn", with_icons)
    assert drawn["stations"] == 2 and drawn["height"] == 40
    assert await page.evaluate(CLS) == 0


async def test_element_without_javascript_shows_its_fallback(aiohttp_server, ticker, browser):
    host = await _host(aiohttp_server, ticker)
    page = await browser.new_page(width=800, height=300)
    await page.send("Emulation.setScriptExecutionDisabled", {"value": True})
    await page.goto(str(host.make_url("/")))
    doc = await page.send("DOM.getDocument", {"depth": -1, "pierce": True})
    el = await page.send("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": "kma-ticker"})
    html = (await page.send("DOM.getOuterHTML", {"nodeId": el["nodeId"]}))["outerHTML"]
    assert "shadowroot" not in html.lower()
    strip = await page.send("DOM.querySelector", {"nodeId": el["nodeId"], "selector": ".kma-ticker"})
    box = (await page.send("DOM.getBoxModel", {"nodeId": strip["nodeId"]}))["model"]
    assert box["height"] == 40 and box["width"] > 700
    for word in ("서울", "부산", "기상청 제공", "2025.07.28 (월)"):
        assert word in html
    # Laid out and painted: the station's name has a box inside the strip.
    name = await page.send("DOM.querySelector", {"nodeId": strip["nodeId"], "selector": ".kt-name"})
    name_box = (await page.send("DOM.getBoxModel", {"nodeId": name["nodeId"]}))["model"]
    assert name_box["width"] > 0
    await page.screenshot(ARTIFACTS / "element-no-js.png")
