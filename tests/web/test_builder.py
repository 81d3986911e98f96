"""The embed builder: choices change the preview and the snippets; each snippet, pasted into a
blank page, renders the chosen variant in Chromium. The page runs under a strict CSP, no cookies."""

from __future__ import annotations

import json
import re

import chevron
import pytest
from aiohttp import ClientSession, ClientTimeout, web

from tests.support.cdp import Browser, Page, attr, own_process_frames, text, walk
from tests.support.kma_data import ticker as ticker  # a fixture, used by name
from tests.web.test_browser import ARTIFACTS, CLS, _until
from ticker.web.render import BUILDER_KINDS

pytestmark = pytest.mark.timeout(120)

# AMP pages need the AMP runtime from cdn.ampproject.org, out of reach here: its snippet is
# rendered below the way amp-list does it.
KINDS = [kind for kind, _, _ in BUILDER_KINDS if kind != "amp"]
CHOOSE = """(() => {
  document.querySelector('input[name=lang][value=en]').click();
  document.querySelector('input[name=theme][value=dark]').click();
  document.querySelector('input[name=icons][value=on]').click();
  document.querySelectorAll('input[name=stations]').forEach(b => {
    if (b.checked !== ['108', '159'].includes(b.value)) b.click();
  });
  return document.getElementById('preview').getAttribute('src');
})()"""
BLANK = """<!doctype html><html><head><meta charset="utf-8"><title>Blank</title>
<link rel="icon" href="data:,"></head><body>
{snippet}
</body></html>"""
INCLUDE = re.compile(r'<!--# include virtual="(/widget[^"]*)" -->')


async def _blank_page(snippet: str, kind: str, origin: str) -> str:
    """The snippet as a blank page holding it would serve it: includes done, oEmbed asked."""
    async with ClientSession(timeout=ClientTimeout(total=10)) as http:
        if kind == "oembed":
            async with http.get(snippet) as resp:
                assert resp.status == 200
                snippet = json.loads(await resp.text())["html"]
        for path in INCLUDE.findall(snippet):  # what nginx's ssi module does
            async with http.get(origin + path) as resp:
                snippet = snippet.replace(f'<!--# include virtual="{path}" -->', await resp.text())
    return BLANK.format(snippet=snippet)


async def _open(aiohttp_server, browser: Browser, body: str) -> Page:
    """A new tab on a page served from 127.0.0.1 with this body."""

    async def blank(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="text/html")

    host = web.Application()
    host.router.add_get("/", blank)
    server = await aiohttp_server(host)
    page = await browser.new_page(width=900, height=300)
    await page.goto(str(server.make_url("/")))
    return page


async def _rendered(browser: Browser, page: Page) -> tuple[str, int, int]:
    """Text of the page, its stations and their weather icons, through shadow roots and frames
    (in this process or their own). The element's fallback and its shadow root both count."""
    roots = [(await page.send("DOM.getDocument", {"depth": -1, "pierce": True}))["root"]]
    roots += await own_process_frames(browser)
    classes = [(attr(node, "class") or "").split() for root in roots for node in walk(root)]
    stations = sum(1 for c in classes if "kt-st" in c)
    icons = sum(1 for c in classes if "kt-icon" in c)
    return " ".join(text(root) for root in roots), stations, icons


@pytest.mark.parametrize("kind", KINDS)
async def test_each_snippet_renders_the_chosen_variant_on_a_blank_page(aiohttp_server, ticker, browser, kind):
    origin = str(ticker.make_url("")).rstrip("/")
    builder = await browser.new_page(width=1000, height=900)
    await builder.goto(origin + "/builder")
    assert await builder.evaluate(CHOOSE) == "/widget/frame?lang=en&theme=dark&icons=on&stations=108,159"
    snippet = await builder.evaluate(f"document.querySelector('textarea[data-kind={kind}]').value")
    assert await builder.evaluate("document.cookie") == ""
    # A snippet cannot know whether the service it names shows KMA's data or simulated data.
    assert "KMA" not in snippet and "기상청" not in snippet
    assert builder.errors() == []  # nothing refused by the page's CSP
    # Only the blank page is open from here: the builder's own preview must not be what is read.
    await browser.send("Target.closeTarget", {"targetId": builder.target_id})

    page = await _open(aiohttp_server, browser, await _blank_page(snippet, kind, origin))

    async def shown() -> tuple[str, int, int] | None:
        got = await _rendered(browser, page)
        return got if "Source: KMA" in got[0] and "Busan" in got[0] else None

    got, drawn, icons = await _until(f"the {kind} snippet to render", shown)
    assert "Seoul" in got and "Busan" in got and "Daejeon" not in got
    assert drawn >= 2 and icons == drawn  # icons=on was chosen: each station has its icon
    assert "2025.07.28 (Mon)" in got
    assert await page.evaluate(CLS) == 0
    assert page.errors() == []
    await page.screenshot(ARTIFACTS / f"builder-{kind}.png")


async def test_amp_snippet_reads_the_chosen_stations_and_language(aiohttp_server, ticker, browser):
    origin = str(ticker.make_url("")).rstrip("/")
    builder = await browser.new_page(width=1000, height=900)
    await builder.goto(origin + "/builder")
    await builder.evaluate(CHOOSE)
    snippet = await builder.evaluate("document.querySelector('textarea[data-kind=amp]').value")
    src = re.search(r'<amp-list layout="fixed-height" height="40" src="([^"]+)" credentials="omit"', snippet)
    assert src is not None and src.group(1) == origin + "/v1/amp?lang=en&amp;stations=108,159"
    assert 'custom-element="amp-list"' in snippet and 'custom-template="amp-mustache"' in snippet
    template = re.search(r'<template type="amp-mustache">(.*)</template>', snippet)
    assert template is not None and "{{#stations}}" in template.group(1)
    async with (
        ClientSession(timeout=ClientTimeout(total=10)) as http,
        http.get(src.group(1).replace("&amp;", "&")) as resp,
    ):
        item = json.loads(await resp.text())["items"][0]
    assert [s["name"] for s in item["stations"]] == ["Seoul", "Busan"]
    assert item["attribution"] == "Source: KMA"
    # amp-list's work done by hand (the AMP runtime is only on cdn.ampproject.org): the item
    # through the snippet's own template, on a blank page, in Chromium.
    strip = chevron.render(template.group(1), item)
    page = await _open(aiohttp_server, browser, BLANK.format(snippet=f'<div id="list">{strip}</div>'))
    shown = await page.evaluate("document.getElementById('list').innerText")
    assert shown.startswith("2025.07.28 (Mon)") and shown.rstrip().endswith("Source: KMA")
    assert "Seoul" in shown and "Busan" in shown and "Daejeon" not in shown
    assert page.errors() == []


async def test_builder_page_headers(ticker):
    async with (
        ClientSession(timeout=ClientTimeout(total=10)) as http,
        http.get(ticker.make_url("/builder")) as resp,
    ):
        assert resp.status == 200
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        assert "frame-ancestors 'none'" in csp and resp.headers["X-Frame-Options"] == "DENY"
        assert "Set-Cookie" not in resp.headers and resp.headers["ETag"]
        html = await resp.text()
    assert "<script>" not in html and "onclick" not in html  # no inline script at all
    for kind, _, _ in BUILDER_KINDS:
        assert f'data-kind="{kind}"' in html
