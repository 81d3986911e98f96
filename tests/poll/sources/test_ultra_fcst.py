"""초단기예보 (getUltraSrtFcst): the real answer's shape, the SKY of the current hour, NO_DATA."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import FixedClock
from ticker.errors import UpstreamAuthError, UpstreamNoDataError
from ticker.models import KST, Station
from ticker.poll.sources.ultra_fcst import UltraFcstFeed, default_url, issue_time, sky_at
from ticker.poll.sources.ultra_ncst import grid_params, parse_answer
from ticker.testing.fake_upstream import FakeApiHub

FIXTURES = Path(__file__).parents[2] / "fixtures"
REAL = (FIXTURES / "ultra_fcst_20250915_1730_nx60_ny123.json").read_bytes()
NO_DATA = (FIXTURES / "ultra_fcst_no_data.json").read_bytes()
KEY = "Fcst-Key-31"


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=KST)


def test_the_real_answer_has_sixty_items_from_the_next_hour():
    items = parse_answer(200, "application/json", REAL)
    assert len(items) == 60
    assert sorted({i["fcstTime"] for i in items}) == ["1800", "1900", "2000", "2100", "2200", "2300"]
    # SKY 3,1,3,3,4,1 from 18:00: the earliest hour at or after the current one is taken.
    assert sky_at(items, at("202509151750")) == (3, at("202509151800"))
    assert sky_at(items, at("202509151805")) == (3, at("202509151800"))
    assert sky_at(items, at("202509151900")) == (1, at("202509151900"))
    assert sky_at(items, at("202509152210")) == (4, at("202509152200"))
    assert sky_at(items, at("202509160000")) is None  # past the six hours


def test_no_data_is_resultcode_03_without_a_body():
    with pytest.raises(UpstreamNoDataError):
        parse_answer(200, "application/json", NO_DATA)


@pytest.mark.parametrize(
    ("now", "issue"),
    [("202601150944", "202601150830"), ("202601150945", "202601150930"), ("202601150005", "202601142330")],
)
def test_the_issue_callable_at_a_time(now: str, issue: str):
    assert issue_time(at(now)) == at(issue)


@pytest.fixture
async def hub(stations: list[Station], clock: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as fake:
        yield fake


async def test_the_fake_answers_in_the_real_shape(hub, clock):
    real = json.loads(REAL)["response"]
    params = grid_params("authKey", KEY, issue_time(clock()), 60, 127)
    async with aiohttp.ClientSession() as http, http.get(default_url(hub.base_url), params=params) as resp:
        doc = json.loads(await resp.read())["response"]
    assert doc["header"] == real["header"]
    assert {k: v for k, v in doc["body"].items() if k != "items"} == {
        k: v for k, v in real["body"].items() if k != "items"
    }
    items, real_items = doc["body"]["items"]["item"], real["body"]["items"]["item"]
    assert [list(i) for i in items] == [list(i) for i in real_items]  # keys in the same order
    assert [i["category"] for i in items] == [i["category"] for i in real_items]
    assert all(isinstance(i["fcstValue"], str) and isinstance(i["nx"], int) for i in items)


async def test_an_issue_not_out_yet_falls_back_to_the_one_before(hub, clock):
    # 15:05 KST: the 14:30 issue is out (callable from 14:45); 15:30 is not.
    async with aiohttp.ClientSession() as http:
        feed = UltraFcstFeed(session=http, auth_key=KEY, url=default_url(hub.base_url))
        got, items = await feed.cell(60, 127, at("202507281530"))
    assert got == at("202507281430") and len(items) == 60
    assert feed.requests == {"ultra_fcst": 2}


async def test_a_gateway_key_error_is_classified(hub, clock):
    hub.set_fault(endpoint="ultra_fcst", kind="gateway_auth")
    async with aiohttp.ClientSession() as http:
        feed = UltraFcstFeed(session=http, auth_key=KEY, url=default_url(hub.base_url))
        with pytest.raises(UpstreamAuthError):
            await feed.cell(60, 127, issue_time(clock()))
