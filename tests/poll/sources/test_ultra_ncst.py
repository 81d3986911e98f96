"""The 초단기실황 fallback: its envelope and error answers, and how it fills stations the ASOS answer lacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import FixedClock
from tests.support.helpers import parse_widget
from ticker.errors import UpstreamError
from ticker.models import KST, Station
from ticker.poll.poller import Poller
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.fallback import FallbackSource
from ticker.poll.sources.kma_apihub import KmaApiHubSource
from ticker.poll.sources.ultra_ncst import (
    UltraNcstSource,
    base_time,
    default_url,
    key_param_for,
    parse_answer,
    to_observation,
)
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.weather import Condition
from ticker.web.render import render_widget
from ticker.web.view import build_view, observations_document

KEY = "Sekret-Hub-Key_0123"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("ncst_no_data.json", 200, "no_data"),
        ("ncst_empty_items.json", 200, "no_data"),
        ("gateway_30.xml", 200, "auth"),  # XML although JSON was asked, with 200 ...
        ("gateway_30.xml", 403, "auth"),  # ... or 403
        ("gateway_22.xml", 200, "quota"),
        ("gateway_30.json", 403, "auth"),
        ("hub_401.json", 401, "auth"),
        ("hub_403_quota.json", 403, "quota"),
        ("maintenance.html", 503, "maintenance"),
        ("vilage_01_no_wrapper.json", 200, "status"),  # the header without its "response" wrapper
        ("gateway_12.json", 403, "forbidden"),
    ],
)
def test_error_answers_are_classified(name: str, status: int, kind: str):
    ctype = {"xml": "text/xml", "html": "text/html"}.get(name.rsplit(".", 1)[1], "application/json")
    with pytest.raises(UpstreamError) as caught:
        parse_answer(status, ctype, fixture(name))
    assert caught.value.kind == kind


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"Unexpected errors", 500, "status"),
        (b"\x00\xff garbage", 200, "parse"),
        (b'{"x": 1}', 200, "parse"),
    ],
)
def test_other_answers(body: bytes, status: int, kind: str):
    with pytest.raises(UpstreamError) as caught:
        parse_answer(status, "text/plain", body)
    assert caught.value.kind == kind


def test_a_normal_answer_becomes_an_observation(stations: list[Station]):
    items = parse_answer(200, "application/json", fixture("ncst_ok.json"))
    seoul = next(s for s in stations if s.id == 108)
    obs = to_observation(items, seoul, datetime(2025, 7, 28, 6, 45, tzinfo=KST))
    assert obs.source == "ultra_ncst"
    assert obs.observed_at.isoformat() == "2025-07-28T15:00:00+09:00"
    assert (obs.temperature_c, obs.condition, obs.precipitation_mm) == (27.1, Condition.RAIN, 2.5)
    assert (obs.humidity_pct, obs.wind_speed_ms, obs.wind_dir_deg) == (88.0, 1.3, 112.0)


def test_codes_are_named_in_the_message():
    with pytest.raises(UpstreamError, match=r"resultCode 01: APPLICATION_ERROR"):
        parse_answer(200, "application/json", fixture("vilage_01_no_wrapper.json"))
    with pytest.raises(UpstreamError, match=r"no such service at this URL \(resultCode 12"):
        parse_answer(403, "application/json", fixture("gateway_12.json"))


def test_an_answer_in_xml_is_read_like_the_json_one(stations: list[Station]):
    """dataType=JSON not honoured (XML is the service's default): the same items, as strings."""
    items = parse_answer(200, "text/xml;charset=UTF-8", fixture("ncst_ok_datatype_xml.xml"))
    assert [i["category"] for i in items] == ["PTY", "REH", "RN1", "T1H", "UUU", "VEC", "VVV", "WSD"]
    seoul = next(s for s in stations if s.id == 108)
    obs = to_observation(items, seoul, datetime(2026, 1, 14, 6, 45, tzinfo=KST))
    assert obs.observed_at.isoformat() == "2026-01-14T06:00:00+09:00"
    assert (obs.temperature_c, obs.condition, obs.precipitation_mm) == (-11.0, None, 0.0)
    assert (obs.humidity_pct, obs.wind_speed_ms, obs.wind_dir_deg) == (83.0, 0.5, 37.0)
    with pytest.raises(UpstreamError) as caught:  # a success code with a broken body
        parse_answer(200, "text/xml", b"<response><header><resultCode>00</resultCode></header><body><items>")
    assert caught.value.kind == "parse"


def test_one_item_comes_as_an_object():
    doc = json.loads(fixture("ncst_ok.json"))
    doc["response"]["body"]["items"]["item"] = doc["response"]["body"]["items"]["item"][3]
    items = parse_answer(200, "application/json", json.dumps(doc).encode())
    assert items == [
        {
            "baseDate": "20250728",
            "baseTime": "1500",
            "category": "T1H",
            "nx": 60,
            "ny": 127,
            "obsrValue": "27.1",
        }
    ]


@pytest.mark.parametrize(
    ("pty", "word"),
    [("0", None), ("1", Condition.RAIN), ("2", Condition.SLEET), ("3", Condition.SNOW),
     ("5", Condition.RAIN), ("6", Condition.SLEET), ("7", Condition.SNOW), ("9", None), ("-", None)],
)  # fmt: skip
def test_precipitation_type_words(pty: str, word: Condition | None, stations: list[Station]):
    items = [{"baseDate": "20250728", "baseTime": "1500", "category": "PTY", "obsrValue": pty},
             {"baseDate": "20250728", "baseTime": "1500", "category": "T1H", "obsrValue": "3.0"}]  # fmt: skip
    assert to_observation(items, stations[0], datetime(2025, 7, 28, tzinfo=KST)).condition is word


@pytest.mark.parametrize(
    ("raw", "value"), [("-999", None), ("999", None), ("-50", None), ("-9.0", -9.0), ("x", None)]
)
def test_nowcast_temperature_sentinels(raw: str, value: float | None, stations: list[Station]):
    items = [{"baseDate": "20250728", "baseTime": "1500", "category": "T1H", "obsrValue": raw},
             {"baseDate": "20250728", "baseTime": "1500", "category": "RN1", "obsrValue": "강수없음"}]  # fmt: skip
    obs = to_observation(items, stations[0], datetime(2025, 7, 28, tzinfo=KST))
    assert obs.temperature_c == value
    assert obs.precipitation_mm == 0.0


def test_base_time_and_urls():
    assert base_time(datetime(2025, 7, 28, 15, 39, tzinfo=KST)).hour == 14
    assert base_time(datetime(2025, 7, 28, 15, 40, tzinfo=KST)).hour == 15
    assert default_url("https://apihub.kma.go.kr/") == (
        "https://apihub.kma.go.kr/api/typ02/openApi/VilageFcstInfoService_2.0/getUltraSrtNcst"
    )
    assert key_param_for(default_url("https://apihub.kma.go.kr")) == "authKey"
    assert (
        key_param_for("https://apis.data.go.kr/1360000/VilageFcstInfoService_2.0/getUltraSrtNcst")
        == "serviceKey"
    )


# --- against the fake Hub ----------------------------------------------------------------------


@pytest.fixture
async def fake(stations: list[Station], clock: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as hub:
        yield hub


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def composite(http: aiohttp.ClientSession, fake: FakeApiHub) -> FallbackSource:
    primary = KmaApiHubSource(session=http, auth_key=KEY, base_url=fake.base_url, retry=NO_RETRY)
    fallback = UltraNcstSource(session=http, auth_key=KEY, url=default_url(fake.base_url))
    return FallbackSource(primary, fallback)


async def test_no_fallback_call_while_every_station_has_a_fresh_row(fake, http, stations, clock):
    rows = await composite(http, fake).fetch(stations, clock())
    assert {r.source for r in rows} == {"kma_apihub"}
    assert fake.stats()["requests"] == {"sfctm2": 1, "ultra_ncst": 0, "ultra_fcst": 0, "aws_min": 0}


@pytest.mark.parametrize(
    "asos_fault",
    [{"missing": [108]}, {"sentinels": [108]}, {"values": {108: {"TM": "202507280900"}}}],
)
async def test_a_station_without_a_fresh_valid_row_is_filled_from_its_grid_cell(
    fake, http, stations, clock, store: Store, asos_fault
):
    fake.set_fault(**asos_fault)
    fake.set_fault(endpoint="ultra_ncst", values={108: {"T1H": "-9.0", "PTY": "3"}})
    poller = Poller(stations=stations, source=composite(http, fake), store=store, clock=clock, interval_s=300)
    result = await poller.run_once()
    assert result.outcome == "ok", result
    params = fake.stats()["last_params"]["ultra_ncst"]
    assert (params["nx"], params["ny"], params["authKey"]) == ("60", "127", "***")
    assert (
        params["base_date"] == "20250728" and params["base_time"] == "1400"
    )  # 15:05: the 15h nowcast is not out
    snap = await store.load_snapshot()
    seoul = snap.observations[108]
    assert (seoul.source, seoul.temperature_c, seoul.condition) == (
        "ultra_ncst",
        -9.0,
        Condition.SNOW,
    )
    assert snap.observations[159].source == "kma_apihub"

    view = build_view(stations, snap.observations, clock(), version=snap.version, hard_max_age_s=21600)
    doc = observations_document(view)
    assert next(s for s in doc.stations if s.id == 108).source == "ultra_ncst"
    html = render_widget(view)
    page = parse_widget(html)
    seoul_item = next(s for s in page.stations if s["id"] == "108")
    assert "kt-alt" in seoul_item["class"].split()
    assert "눈 서울 -9.0℃" in page.lines()
    assert 'data-station="108" data-source="ultra_ncst"' in html
    assert 'data-station="159" data-source="kma_apihub"' in html
    assert all("kt-alt" not in s["class"] for s in page.stations if s["id"] != "108")


@pytest.mark.parametrize(
    "kind",
    ["gateway_auth", "gateway_quota", "gateway_json", "no_data", "maintenance", "disconnect"],
)
async def test_a_failing_fallback_leaves_those_stations_as_they_were(
    fake, http, stations, clock, store, kind, caplog
):
    fake.set_fault(missing=[108])
    fake.set_fault(endpoint="ultra_ncst", kind=kind)
    poller = Poller(stations=stations, source=composite(http, fake), store=store, clock=clock, interval_s=300)
    result = await poller.run_once()
    assert result.outcome == "partial" and result.missing == [108]
    snap = await store.load_snapshot()
    assert 108 not in snap.observations and len(snap.observations) == len(stations) - 1
    assert KEY not in caplog.text
    assert any("fallback ultra_ncst failing" in r.getMessage() for r in caplog.records)
