"""AMP: the amp-list JSON profile, AMP's CORS source-origin check, and the documented page.

The AMP validator's engine cannot run here: the npm `amphtml-validator` CLI (1.0.38) and
`@ampproject/toolbox-validator-rules` (2.10.1) download it, or its rules, from cdn.ampproject.org
at run time. Its rules ship in the npm package `amphtml-validator-rules` (3.0.0, spec file
revision 882), kept in tests/fixtures; `tests/support/amp_rules.py` checks the documented page
against them (what it covers and what only the engine does is said there), and a list of faults
shows it refuses what the validator refuses. The AMP runtime (also on cdn.ampproject.org only)
cannot run either, so the strip is rendered the way amp-list does it: the page's amp-mustache
template filled by a Mustache implementation (chevron) with the JSON item the service answers,
under the page's amp-custom CSS, in headless Chromium.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import quote

import chevron
import pytest
from aiohttp import ClientSession, ClientTimeout, web
from aiohttp.test_utils import TestServer

from tests.conftest import ROOT
from tests.support.amp_rules import AmpRules
from tests.support.cdp import find, text
from tests.support.helpers import web_app
from tests.support.kma_data import save_as_kma
from tests.web.test_warnings_browser import ARTIFACTS, _rgb
from tests.web.test_warnings_browser import service as service  # a fixture, used by name
from ticker.errors import ConfigError
from ticker.web.amp import check_amp_origins
from ticker.web.warnings_view import PALETTE

EXAMPLE = ROOT / "docs" / "amp-example.html"
NEWS = "https://news.example"


@pytest.fixture
async def client(aiohttp_client, settings, stations, store, clock):
    await save_as_kma(stations, store, clock)
    app = web_app(
        settings.model_copy(update={"amp_origins": f"{NEWS} https://other.example"}), stations, store, clock
    )
    return await aiohttp_client(app)


async def test_profile_is_one_item_with_every_station(client, stations):
    resp = await client.get("/v1/amp")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert "AMP-Access-Control-Allow-Source-Origin" not in resp.headers
    doc = await resp.json()
    (item,) = doc["items"]
    assert item["date"] == "2025.07.28 (월)" and item["attribution"] == "기상청 제공"
    assert [s["id"] for s in item["stations"]] == [s.id for s in stations]
    assert all(re.fullmatch(r"-?\d+\.\d", s["temperature"]) for s in item["stations"])
    en = (await (await client.get("/v1/amp?lang=en&stations=108")).json())["items"][0]
    assert en["attribution"] == "Source: KMA" and [s["name"] for s in en["stations"]] == ["Seoul"]


async def test_amp_cors_source_origin(client):
    resp = await client.get(f"/v1/amp?__amp_source_origin={quote(NEWS, safe='')}")
    assert resp.status == 200
    assert resp.headers["AMP-Access-Control-Allow-Source-Origin"] == NEWS
    assert "AMP-Access-Control-Allow-Source-Origin" in resp.headers["Access-Control-Expose-Headers"]
    assert resp.headers["Access-Control-Allow-Origin"] == "*"  # credentials="omit" in the snippet
    again = await client.get(resp.url.path_qs, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    assert again.headers["AMP-Access-Control-Allow-Source-Origin"] == NEWS
    for bad in ("https://evil.example", "https://news.example.evil.example", "null", ""):
        refused = await client.get(f"/v1/amp?__amp_source_origin={quote(bad, safe='')}")
        assert refused.status == 403, bad
        assert "AMP-Access-Control-Allow-Source-Origin" not in refused.headers
    assert (await client.get(f"/v1/amp?__amp_source_origin=a&__amp_source_origin={NEWS}")).status == 400
    assert (await client.get("/v1/amp?theme=dark")).status == 400


def test_amp_origins_setting():
    assert check_amp_origins("https://A.example/, http://b.example:8080") == {
        "https://a.example",
        "http://b.example:8080",
    }
    assert check_amp_origins("") == frozenset()
    with pytest.raises(ConfigError, match="TICKER_AMP_ORIGINS"):
        check_amp_origins("news.example")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: dict[str, str] = {}
        self._style: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "style":
            self._style = "amp-custom" if "amp-custom" in dict(attrs) else "other"

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            self.styles[self._style] = self.styles.get(self._style, "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._style = None


async def test_documented_amp_page_has_what_the_validator_requires(client):
    html = EXAMPLE.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    tags = page.tags
    assert tags[0][0] == "html" and ("⚡" in tags[0][1] or "amp" in tags[0][1])
    assert tags[1][0] == "head" and tags[2] == ("meta", {"charset": "utf-8"})
    assert ("meta", {"name": "viewport", "content": "width=device-width"}) in tags
    assert any(t == "link" and a.get("rel") == "canonical" for t, a in tags)
    scripts = [a for t, a in tags if t == "script"]
    assert {"async": None, "src": "https://cdn.ampproject.org/v0.js"} in scripts
    assert {a.get("custom-element") or a.get("custom-template") for a in scripts} == {
        None,
        "amp-list",
        "amp-mustache",
    }
    assert all((a.get("src") or "").startswith("https://cdn.ampproject.org/v0") for a in scripts)
    assert sum(1 for t, a in tags if t == "style" and "amp-boilerplate" in a) == 2  # and its noscript
    custom = page.styles["amp-custom"]
    assert "!important" not in custom and len(custom.encode()) < 75_000
    assert not any("style" in a for t, a in tags if t not in ("style",))  # no inline style attributes
    (amp_list,) = [a for t, a in tags if t == "amp-list"]
    assert amp_list["layout"] == "fixed-height" and amp_list["height"] == "40"
    assert amp_list["credentials"] == "omit" and (amp_list["src"] or "").startswith("https://")
    assert ("template", {"type": "amp-mustache"}) in tags
    # Every field the template names is in the JSON the list reads.
    item = (await (await client.get("/v1/amp")).json())["items"][0]
    fields = set(re.findall(r"\{\{[#/]?([a-z_]+)\}\}", html))
    station_fields = {"word", "name", "temperature", "late", "warnings"}
    warning_fields = {"label", "rank", "period"}
    item_fields = {"date", "attribution", "warning_summary", "stations"}
    assert fields == item_fields | station_fields | warning_fields
    assert item_fields <= set(item)
    assert station_fields <= set(item["stations"][0])


@pytest.fixture(scope="module")
def amp_rules() -> AmpRules:
    return AmpRules()


def test_documented_amp_page_passes_the_amp_validators_rules(amp_rules):
    """The page against the validator's own rules (spec file revision 882): every tag, attribute,
    layout, stylesheet, mandatory tag and extension script (tests/support/amp_rules.py)."""
    assert amp_rules.revision == 882
    assert amp_rules.errors(EXAMPLE.read_text(encoding="utf-8")) == []


_AMP_FAULTS = [
    # (what is changed in the documented page, the replacement, what the rules must say)
    ('<span class="kt-date">', '<span class="kt-date" onclick="go()">', "'onclick' is not allowed"),
    (
        "<p>First paragraph",
        '<script src="https://ticker.example/embed.js"></script><p>First paragraph',
        "<script>",
    ),
    (".kt-date{font-weight:700;", ".kt-date{font-weight:700!important;", "CSS !important"),
    ('<link rel="canonical" href="https://news.example/article.html">\n', "", "link rel=canonical"),
    (
        '<script async custom-element="amp-list" src="https://cdn.ampproject.org/v0/amp-list-0.1.js"></script>',
        "",
        "requires the amp-list extension script",
    ),
    ('layout="fixed-height" height="40"', 'layout="fixed-height"', "needs a height"),
    (
        'layout="fixed-height" height="40"',
        'layout="intrinsic" height="40"',
        "layout intrinsic is not supported",
    ),
    (
        'src="https://ticker.example/v1/amp?lang=ko"',
        'src="http://ticker.example/v1/amp?lang=ko"',
        "protocol 'http'",
    ),
    (
        'src="https://ticker.example/v1/amp?lang=ko"',
        'src="https://ticker.example/v1/amp?__amp_source_origin=x"',
        "__amp_source_origin",
    ),
    ("<h1>Headline", '<iframe src="https://ticker.example/widget/frame"></iframe><h1>Headline', "<iframe>"),
    ("<h1>Headline", '<div style="color:red!important">x</div><h1>Headline', "refused"),
    ("amp-mustache-0.2.js", "amp-mustache-9.9.js", "does not match"),
    ("<style amp-boilerplate>body{", "<style amp-boilerplate>html{", "differ from the required text"),
]


@pytest.mark.parametrize(("old", "new", "said"), _AMP_FAULTS, ids=[f[2] for f in _AMP_FAULTS])
def test_the_rules_check_refuses_what_the_validator_refuses(amp_rules, old, new, said):
    html = EXAMPLE.read_text(encoding="utf-8")
    assert old in html
    errors = amp_rules.errors(html.replace(old, new, 1))
    assert any(said in e for e in errors), errors


async def test_the_template_renders_the_strip_with_its_warnings_in_chromium(service, browser, stations):
    """amp-list's work done by hand: the JSON item through the page's template, in Chromium."""
    async with (
        ClientSession(timeout=ClientTimeout(total=10)) as http,
        http.get(str(service.make_url("/v1/amp?lang=ko"))) as resp,
    ):
        (item,) = (await resp.json())["items"]
    html = EXAMPLE.read_text(encoding="utf-8")
    template = re.search(r'<template type="amp-mustache">(.*?)</template>', html, re.S)
    css = re.search(r"<style amp-custom>(.*?)</style>", html, re.S)
    assert template is not None and css is not None
    strip = chevron.render(template.group(1), item)
    page_html = (
        f'<!doctype html><html lang="ko"><head><meta charset="utf-8"><style>{css.group(1)}</style>'
        f'<link rel="icon" href="data:,"></head><body><div id="list">{strip}</div></body></html>'
    )

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=page_html, content_type="text/html")

    host = web.Application()
    host.router.add_get("/", page)
    server = TestServer(host)
    await server.start_server()
    try:
        tab = await browser.new_page(width=2400, height=60)
        await tab.goto(str(server.make_url("/")))
        shown = text(find(await tab.document(), "id", "list") or {})
        assert shown.startswith("2025.07.28 (월)") and shown.rstrip().endswith("기상청 제공")
        assert "! 기상특보 2곳" in shown
        for station in stations:
            assert station.name in shown
        badges = await tab.evaluate(
            "[...document.querySelectorAll('.kt-st')].filter(e => e.querySelector('.kt-wrn')).map(e => ["
            " e.querySelector('.kt-name').textContent,"
            " ...[...e.querySelectorAll('.kt-wrn')].map(b => [b.textContent, getComputedStyle(b).backgroundColor])])"
        )
        assert badges == [
            ["서울", ["폭염경보", _rgb(PALETTE["경보"]["light"].bg)]],
            ["대구", ["호우주의보", _rgb(PALETTE["주의"]["light"].bg)]],
        ]
        height = await tab.evaluate("document.querySelector('.kt').getBoundingClientRect().height")
        assert height == 40  # amp-list's fixed-height="40" box holds it
        assert tab.errors() == []
        await tab.screenshot(ARTIFACTS / "amp-strip.png")
    finally:
        await server.close()
