"""oEmbed: answers only for this service's own pages, within the consumer's size, per the spec."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from tests.support.cdp import frame_text
from tests.support.helpers import web_app
from tests.support.kma_data import save_as_kma
from tests.support.kma_data import ticker as ticker  # a fixture, used by name
from tests.web.test_browser import ARTIFACTS, CLS, _until
from ticker.errors import ConfigError
from ticker.web.oembed import check_public_url

# oEmbed 1.0, section 2.3.4: fields every answer carries, and those of type "rich".
REQUIRED = {"type", "version"}
RICH_REQUIRED = {"html", "width", "height"}


@pytest.fixture
async def client(aiohttp_client, settings, stations, store, clock):
    await save_as_kma(stations, store, clock)
    return await aiohttp_client(web_app(settings, stations, store, clock))


def _oembed(url: str, **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in extra.items())
    return f"/oembed?url={quote(url, safe='')}" + (f"&{query}" if query else "")


def check_spec(doc: dict[str, object]) -> None:
    """The required fields of a rich oEmbed answer, with the types the spec gives them."""
    assert set(doc) >= REQUIRED | RICH_REQUIRED, doc
    assert doc["type"] == "rich" and doc["version"] == "1.0"
    assert isinstance(doc["html"], str) and doc["html"].startswith("<iframe ")
    for field in ("width", "height"):
        value = doc[field]
        assert isinstance(value, int) and value > 0, field
    for optional in ("title", "provider_name", "provider_url"):
        assert isinstance(doc.get(optional, ""), str)
    assert isinstance(doc.get("cache_age", 0), int)


class _Iframe(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.attrs = dict(attrs)


def iframe_attrs(html: str) -> dict[str, str | None]:
    parser = _Iframe()
    parser.feed(html)
    return parser.attrs


async def test_a_frame_url_gets_its_iframe(client):
    origin = str(client.make_url("")).rstrip("/")
    resp = await client.get(
        _oembed(f"{origin}/widget/frame?lang=en&layout=list&stations=108,159", format="json")
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = await resp.json()
    check_spec(doc)
    attrs = iframe_attrs(doc["html"])
    assert attrs["src"] == f"{origin}/widget/frame?lang=en&layout=list&stations=108,159"
    assert doc["height"] == 40 + 2 * 28 and attrs["height"] == "96"
    assert doc["width"] == 640 and doc["provider_url"] == origin + "/"
    # Cached like the others.
    again = await client.get(resp.url.path_qs, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304


async def test_size_limits(client):
    origin = str(client.make_url("")).rstrip("/")
    page = f"{origin}/demo?theme=dark"
    doc = await (await client.get(_oembed(page, maxwidth="320", maxheight="120"))).json()
    check_spec(doc)
    assert doc["width"] == 320 and doc["height"] == 40
    assert iframe_attrs(doc["html"])["src"] == f"{origin}/widget/frame?theme=dark"
    relative = await (await client.get(_oembed("/demo?theme=dark", maxwidth="320"))).json()
    assert relative == doc | {"height": 40}
    wide = await (await client.get(_oembed(page, maxwidth="99999"))).json()
    assert wide["width"] == 1920
    for extra in ({"maxwidth": "120"}, {"maxheight": "30"}):
        resp = await client.get(_oembed(page, **extra))
        assert resp.status == 404, extra
    list_page = f"{origin}/widget/frame?layout=list"
    assert (await client.get(_oembed(list_page, maxheight="200"))).status == 404  # 16 rows do not fit


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/widget/frame",
        "{origin}.evil.example/widget/frame",
        "{origin}/v1/observations",
        "{origin}/oembed",
        "{origin}/widget/frame?lang=fr",
        "{origin}/widget/frame?onload=x",
        "{origin}/widget/frame#x",
        "javascript:alert(1)",
        "//evil.example/widget/frame",
        "{user}/widget/frame",
    ],
)
async def test_other_urls_get_nothing(client, url):
    origin = str(client.make_url("")).rstrip("/")
    user = origin.replace("://", "://me@")
    resp = await client.get(_oembed(url.format(origin=origin, user=user)))
    assert resp.status == 404
    assert resp.headers["Cache-Control"] == "no-store"
    assert "Location" not in resp.headers
    assert (await resp.json())["error"] == "not_found"


async def test_query_allow_list_and_format(client):
    origin = str(client.make_url("")).rstrip("/")
    page = f"{origin}/widget/frame"
    assert (await client.get(_oembed(page, format="xml"))).status == 501
    for path in (
        "/oembed",
        "/oembed?format=json",
        _oembed(page, callback="x"),
        _oembed(page, maxwidth="-1"),
        _oembed(page, maxwidth="abc"),
        _oembed(page, format="AAA"),
        _oembed(page) + "&url=" + quote(page, safe=""),
    ):
        resp = await client.get(path)
        assert resp.status == 400, path
        assert (await resp.json())["error"] == "bad_request"


async def test_discovery_links_with_a_public_url(aiohttp_client, settings, stations, store, clock):
    await save_as_kma(stations, store, clock)
    public = "https://ticker.example"
    app = web_app(settings.model_copy(update={"public_url": public + "/"}), stations, store, clock)
    client = await aiohttp_client(app)
    for page in ("/widget/frame?lang=en", "/demo?layout=list"):
        html = await (await client.get(page)).text()
        link = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html)
        assert link is not None, page
        href = link.group(1).replace("&amp;", "&")
        parts = urlsplit(href)
        assert f"{parts.scheme}://{parts.netloc}" == public and parts.path == "/oembed"
        assert parse_qs(parts.query)["url"] == [public + page]
        doc = await (await client.get(parts.path + "?" + parts.query)).json()
        check_spec(doc)
        assert (iframe_attrs(doc["html"])["src"] or "").startswith(public + "/widget/frame")
    # With a public URL, only it is this service's origin.
    origin = str(client.make_url("")).rstrip("/")
    assert (await client.get(_oembed(origin + "/widget/frame"))).status == 404
    no_link = web_app(settings, stations, store, clock)
    plain = await aiohttp_client(no_link)
    assert "json+oembed" not in await (await plain.get("/widget/frame")).text()


HOST = """<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>Article</title>
<link rel="icon" href="data:,"></head><body><h1>Headline</h1>
<div id="embed">{html}</div><p id="after">Text.</p></body></html>"""


async def test_its_iframe_renders_in_chromium(aiohttp_server, ticker, browser, stations):
    origin = str(ticker.make_url("")).rstrip("/")
    async with (
        ClientSession(timeout=ClientTimeout(total=10)) as http,
        http.get(origin + _oembed(origin + "/widget/frame?theme=dark", maxwidth="700")) as resp,
    ):
        doc = await resp.json()
    check_spec(doc)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=HOST.format(html=doc["html"]), content_type="text/html")

    host = web.Application()
    host.router.add_get("/", page)
    server = await aiohttp_server(host)
    tab = await browser.new_page(width=800, height=300)
    await tab.goto(str(server.make_url("/")))

    async def rendered() -> str | None:
        # The frame's <title> carries the credit too, so a document read while it is still being
        # parsed can show the credit and only some stations: wait for the whole strip.
        shown = await frame_text(browser, tab, "embed")
        return shown if "기상청 제공" in shown and all(s.name in shown for s in stations) else None

    await _until("the oEmbed iframe to show every station and the credit", rendered)
    box = await tab.evaluate("JSON.stringify(document.querySelector('iframe').getBoundingClientRect())")
    assert '"height":40' in box and '"width":700' in box
    assert await tab.evaluate(CLS) == 0
    assert tab.errors() == []
    await tab.screenshot(ARTIFACTS / "oembed-iframe.png")


def test_public_url_setting_is_an_origin():
    assert check_public_url("https://Ticker.Example/") == "https://ticker.example"
    assert check_public_url(None) is None
    for bad in ("ticker.example", "https://ticker.example/path", "ftp://x", "https://a b", "https://x/?q"):
        with pytest.raises(ConfigError, match="TICKER_PUBLIC_URL"):
            check_public_url(bad)
