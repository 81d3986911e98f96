"""The fake API Hub itself: the format it speaks, its controls and its faults."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp

from tests.conftest import FixedClock
from ticker.poll.sources.kma_text import FIELD_COUNT, parse_frame
from ticker.testing.fake_upstream import SFCTM2, FakeApiHub, Fault, running_in_thread


async def test_serves_an_euc_kr_frame_with_46_fields_for_every_station(stations, clock: FixedClock):
    ids = ":".join(str(s.id) for s in stations)
    params = {"stn": ids, "help": "0", "authKey": "k"}
    async with (
        FakeApiHub(stations=stations, auth_key="k", clock=clock) as fake,
        aiohttp.ClientSession() as http,
        http.get(f"{fake.base_url}{SFCTM2}", params=params) as resp,
    ):
        assert resp.status == 200
        assert resp.charset == "euc-kr"
        body = await resp.read()
    lines = body.decode("cp949").splitlines()
    assert lines[0] == "#START7777" and lines[-1] == "#7777END"
    data = [line for line in lines if not line.startswith("#")]
    assert [len(line.split()) for line in data] == [FIELD_COUNT] * len(stations)
    frame = parse_frame(body)
    assert [r.station_id for r in frame.rows] == [s.id for s in stations]
    assert {r.observed_at.isoformat() for r in frame.rows} == {"2025-07-28T15:00:00+09:00"}
    assert fake.stats()["requests"]["sfctm2"] == 1
    assert fake.stats()["last_params"]["sfctm2"]["authKey"] == "***"


async def test_wrong_key_gets_the_hubs_401_json(stations, clock):
    async with (
        FakeApiHub(stations=stations, auth_key="right", clock=clock) as fake,
        aiohttp.ClientSession() as http,
        http.get(f"{fake.base_url}{SFCTM2}", params={"stn": "108", "authKey": "wrong"}) as resp,
    ):
        assert resp.status == 401
        doc = json.loads(await resp.text())
    assert doc == {"result": {"status": 401, "message": "유효한 인증키가 아닙니다."}}


def _call(method: str, url: str, body: object | None = None) -> tuple[int, Any]:
    """A blocking request to the fake (127.0.0.1 only), for code that has no event loop."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http on 127.0.0.1)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (same)
            status, raw, ctype = resp.status, resp.read(), resp.headers.get_content_type()
    except urllib.error.HTTPError as err:
        status, raw, ctype = err.code, err.read(), err.headers.get_content_type()
    return status, json.loads(raw) if ctype == "application/json" else raw


def test_faults_and_stats_over_http_from_a_thread(stations):
    fake = FakeApiHub(stations=stations, auth_key="k")
    with running_in_thread(fake) as url:
        assert _call("POST", f"{url}/_fake/fault", {"kind": "quota", "times": 1}) == (
            200,
            Fault(kind="quota", times=1).model_dump(),
        )
        assert fake.faults["sfctm2"] == Fault(kind="quota", times=1)
        status, doc = _call("POST", f"{url}/_fake/fault", {"kind": "nonsense"})
        assert status == 400 and str(doc["error"]).startswith("kind:")
        status, stats = _call("GET", f"{url}/_fake/stats")
        assert stats["faults"] == {"sfctm2": Fault(kind="quota", times=1).model_dump()}
        status, _ = _call("GET", f"{url}/api/typ01/url/kma_sfctm2.php?stn=108&authKey=k")
        assert status == 403  # the scripted quota answer, once
        status, _ = _call("GET", f"{url}/api/typ01/url/kma_sfctm2.php?stn=108&authKey=k")
        assert status == 200 and fake.faults == {}
        _, stats = _call("POST", f"{url}/_fake/reset")
        assert stats["requests"] == {"sfctm2": 0, "ultra_ncst": 0, "ultra_fcst": 0, "aws_min": 0}
