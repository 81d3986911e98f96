"""GET /widget.txt and GET /widget.svg: every station, cached like the other answers."""

from __future__ import annotations

import gzip
import re
import xml.etree.ElementTree as ET

import pytest

from tests.support.helpers import web_app
from tests.support.kma_data import save_as_kma
from tests.support.warnings_support import HEAT, WIND_AHEAD
from ticker.web.render import SVG_COLORS
from ticker.web.warnings_view import PALETTE, contrast

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def client(aiohttp_client, settings, stations, store, clock):
    await save_as_kma(stations, store, clock)
    return await aiohttp_client(web_app(settings, stations, store, clock))


async def test_text_is_one_line_with_every_station(client, stations):
    resp = await client.get("/widget.txt")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    body = await resp.text()
    assert body.endswith("\n") and body.count("\n") == 1
    assert body.startswith("2025.07.28 (월) ") and body.rstrip().endswith("· 기상청 제공")
    for station in stations:
        assert re.search(rf"{station.name} -?\d+\.\d℃", body), station.name
    en = await (await client.get("/widget.txt?lang=en&stations=108,159")).text()
    assert en.startswith("2025.07.28 (Mon) ") and en.rstrip().endswith("· Source: KMA")
    assert "Seoul" in en and "Busan" in en and "Daejeon" not in en


async def test_svg_is_self_contained_with_every_station_as_text(client, stations):
    resp = await client.get("/widget.svg")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    body = await resp.read()
    root = ET.fromstring(body)  # noqa: S314  (our own answer: must be well-formed XML)
    assert root.tag == SVG_NS + "svg"
    texts = " ".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))
    assert "2025.07.28 (월)" in texts and "기상청 제공" in texts
    for station in stations:
        assert station.name in texts, station.name
    # Self-contained: every <use> points inside the document, nothing is fetched.
    refs = [u.get("{http://www.w3.org/1999/xlink}href") for u in root.iter(SVG_NS + "use")]
    ids = {s.get("id") for s in root.iter(SVG_NS + "symbol")}
    assert refs and all(r and r[1:] in ids for r in refs)
    assert b"http" not in body.replace(b"http://www.w3.org/", b"")
    assert b"<script" not in body and b"<style" not in body
    height = int(root.get("height") or 0)
    assert height == 40 + 28 * len(stations)


@pytest.mark.parametrize("path", ["/widget.txt", "/widget.svg", "/widget.svg?theme=dark&lang=en"])
async def test_cached_like_the_others(client, path):
    resp = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    etag = resp.headers["ETag"]
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Vary"] == "Accept-Encoding"
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    raw = await client.get(path, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    body = await raw.read()
    if raw.headers.get("Content-Encoding") == "gzip":
        assert gzip.decompress(body) == await resp.read()
    else:
        assert len(body) < 512  # too small to be worth compressing


@pytest.mark.parametrize(
    "path",
    [
        "/widget.txt?theme=dark",
        "/widget.txt?layout=list",
        "/widget.svg?theme=auto",
        "/widget.svg?layout=list",
        "/widget.svg?stations=1",
        "/widget.txt?lang=fr",
    ],
)
async def test_other_parameters_are_refused(client, path):
    resp = await client.get(path)
    assert resp.status == 400
    assert resp.headers["Content-Type"].startswith("application/json")
    assert (await resp.json())["error"] == "bad_request"


async def test_warnings_are_in_the_text_and_the_picture(aiohttp_client, settings, stations, store, clock):
    """The warning is the news on a hot day: the text line and the SVG carry it like the strip."""
    await save_as_kma(stations, store, clock)
    await store.save_warnings([HEAT, WIND_AHEAD], clock())
    client = await aiohttp_client(web_app(settings, stations, store, clock))
    text = await (await client.get("/widget.txt")).text()
    assert re.search(r"서울 -?\d+\.\d℃ \[폭염경보\] ·", text), text
    assert re.search(r"강릉 -?\d+\.\d℃ \[강풍 예비특보 29일 오후\] ·", text), text
    assert text.count("[") == 2  # no other station is under a warning
    en = await (await client.get("/widget.txt?lang=en&stations=108")).text()
    assert re.search(r"Seoul -?\d+\.\d℃ \[Heat wave warning\] ·", en), en

    for theme in ("light", "dark"):
        body = await (await client.get(f"/widget.svg?theme={theme}")).read()
        root = ET.fromstring(body)  # noqa: S314  (our own answer)
        title = "".join(next(root.iter(SVG_NS + "title")).itertext())
        assert "[폭염경보]" in title and "[강풍 예비특보 29일 오후]" in title
        badges = {
            (t.text, t.get("fill")) for t in root.iter(SVG_NS + "tspan") if t.get("font-weight") == "700"
        }
        assert badges == {
            ("폭염경보", PALETTE["경보"][theme].border),
            ("강풍 예비특보", PALETTE["예비"][theme].border),
        }
        for level in PALETTE:  # every level's colour reads on the picture's background
            assert contrast(PALETTE[level][theme].border, SVG_COLORS[theme]["bg"]) >= 4.5
