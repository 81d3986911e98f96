"""AWS minute data (nph-aws2_min): the real 2026 answer, the comma form, sentinels, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import FixedClock
from ticker.errors import UpstreamForbiddenError, UpstreamParseError
from ticker.models import KST, Station
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.aws_min import AwsMinuteFeed, minute_params, parse_frame, parse_line
from ticker.testing.fake_upstream import FakeApiHub

FIXTURES = Path(__file__).parents[2] / "fixtures"
REAL = (FIXTURES / "aws2_min_202608131200_disp0_help1.txt").read_bytes()
TICKER_IDS = {98, 105, 108, 133, 143, 152, 156, 159, 172, 184, 201, 226, 238, 259, 283, 294}
KEY = "Minute-Key-77"


def test_the_real_answer_is_euc_kr_and_parses_every_station():
    assert "강수감지".encode("cp949") in REAL  # the legend as the Hub sends it
    rows = parse_frame(REAL)
    assert len(rows) == 736
    assert {r.station_id for r in rows} >= TICKER_IDS
    seoul = next(r for r in rows if r.station_id == 108)
    assert seoul.at == datetime(2026, 8, 13, 12, 0, tzinfo=KST)
    assert (seoul.temperature_c, seoul.detector, seoul.rain_15m, seoul.rain_60m) == (31.0, None, 0.0, 0.0)
    # RE is -99.9 everywhere in 2026: unknown, so the 15-minute amount decides (dry here).
    assert seoul.precipitating is False
    assert all(r.detector is None for r in rows)


def test_missing_precipitation_columns_leave_it_unknown():
    boeun = next(r for r in parse_frame(REAL) if r.station_id == 226)  # RN columns -99.9 in 2026
    assert (boeun.rain_15m, boeun.detector, boeun.precipitating) == (None, None, None)
    assert boeun.temperature_c is not None


@pytest.mark.parametrize(
    ("re_", "rn15", "wet"),
    [("-99.9", "0.5", True), ("-99.9", "0.0", False), ("1.0", "0.0", True), ("0.0", "0.0", False),
     ("0.0", "-99.9", False), ("-99.9", "-99.9", None), ("0.0", "0.5", True)],
)  # fmt: skip
def test_precipitating_now(re_: str, rn15: str, wet: bool | None):
    line = f"202601150903   108  323.1    3.1  285.8    4.4   65.0    2.6   -2.0 {re_:>6} {rn15:>6}    0.0    0.0    0.0   49.4  994.7 1004.2   19.2"
    row = parse_line(line)
    assert row is not None
    assert row.precipitating is wet


def test_comma_rows_ending_in_equals_are_read_by_position():
    # The disp=1 form as other projects' fixtures show it (no raw capture of it is known).
    row = parse_line(
        "202609061311,42,63.6,5.8,32.0,9.4,49.7,6.7,28.7,-99.9,0.0,0.0,0.0,0.0,57.5,1009.3,1012.2,19.5,="
    )
    assert row is not None
    assert (row.station_id, row.temperature_c, row.detector, row.rain_15m) == (42, 28.7, None, 0.0)


@pytest.mark.parametrize(
    "line", ["", "202608131200   108  1.0", "2026081312   108" + "    0.0" * 16, "x" * 130]
)
def test_lines_that_are_not_rows(line: str):
    assert parse_line(line) is None


@pytest.mark.parametrize("cut", [REAL[: len(REAL) // 2], REAL.replace(b"#7777END", b""), b"", b"<html>"])
def test_an_incomplete_frame_is_rejected_whole(cut: bytes):
    with pytest.raises(UpstreamParseError):
        parse_frame(cut)


def test_asks_every_station_for_the_minute_two_minutes_back():
    params = minute_params(KEY, datetime(2026, 1, 15, 9, 5, 30, tzinfo=KST))
    assert params == {"tm2": "202601150903", "stn": "0", "disp": "0", "help": "0", "authKey": KEY}


@pytest.fixture
async def hub(stations: list[Station], clock: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as fake:
        yield fake


async def test_the_fake_answers_like_the_real_one_and_the_feed_reads_it(hub, clock, stations):
    hub.set_fault(endpoint="aws_min", values={143: {"RN-15m": 1.5, "TA": 21.0}}, missing=[159])
    async with aiohttp.ClientSession() as http:
        async with http.get(hub.base_url + "/api/typ01/cgi-bin/url/nph-aws2_min",
                            params={**minute_params(KEY, clock()), "help": "1"}) as resp:  # fmt: skip
            body = await resp.read()
        # Same legend bytes and row layout as the real answer.
        real_head = REAL[: REAL.index(b"\n202608")]
        assert body.startswith(real_head)
        assert body.endswith(b"#7777END\n")
        assert all(len(line) == 130 for line in body.split(b"\n") if line[:1].isdigit())
        feed = AwsMinuteFeed(session=http, auth_key=KEY, base_url=hub.base_url, retry=NO_RETRY)
        readings = await feed.readings([s.id for s in stations], clock())
    assert 159 not in readings and len(readings) == 15
    assert (readings[143].precipitating, readings[143].temperature_c) == (True, 21.0)
    assert feed.requests == {"aws_min": 1}


async def test_the_comma_form_from_the_fake_reads_the_same(hub, clock):
    async with aiohttp.ClientSession() as http:
        async with http.get(hub.base_url + "/api/typ01/cgi-bin/url/nph-aws2_min",
                            params={**minute_params(KEY, clock()), "disp": "1"}) as resp:  # fmt: skip
            comma = parse_frame(await resp.read())
        async with http.get(hub.base_url + "/api/typ01/cgi-bin/url/nph-aws2_min",
                            params=minute_params(KEY, clock())) as resp:  # fmt: skip
            fixed = parse_frame(await resp.read())
    assert comma == fixed and len(fixed) == 16


async def test_not_applied_is_forbidden_and_keeps_the_key_out(hub, clock, stations):
    hub.set_fault(endpoint="aws_min", kind="not_applied")
    async with aiohttp.ClientSession() as http:
        feed = AwsMinuteFeed(session=http, auth_key=KEY, base_url=hub.base_url, retry=NO_RETRY)
        with pytest.raises(UpstreamForbiddenError) as caught:
            await feed.readings([108], clock())
    assert "활용신청" in str(caught.value) and KEY not in str(caught.value)
