"""The fake API Hub itself: the format it speaks, its controls and its faults."""

from __future__ import annotations

import json

import aiohttp

from ticker.fake_upstream import SFCTM2, FakeApiHub, Fault, running_in_thread
from ticker.sources.kma_text import FIELD_COUNT, parse_frame

from .conftest import FixedClock


async def test_serves_an_euc_kr_frame_with_46_fields_for_every_station(stations, clock: FixedClock):
    async with FakeApiHub(stations=stations, auth_key="k", clock=clock) as fake:
        async with aiohttp.ClientSession() as http:
            ids = ":".join(str(s.id) for s in stations)
            async with http.get(f"{fake.base_url}{SFCTM2}", params={"stn": ids, "help": "0", "authKey": "k"}) as resp:
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
    async with FakeApiHub(stations=stations, auth_key="right", clock=clock) as fake:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{fake.base_url}{SFCTM2}", params={"stn": "108", "authKey": "wrong"}) as resp:
                assert resp.status == 401
                doc = json.loads(await resp.text())
    assert doc == {"result": {"status": 401, "message": "유효한 인증키가 아닙니다."}}


def test_faults_and_stats_over_http_from_a_thread(stations):
    fake = FakeApiHub(stations=stations, auth_key="k")
    with running_in_thread(fake) as url:
        import urllib.request  # noqa: PLC0415

        req = urllib.request.Request(
            f"{url}/_fake/fault", data=json.dumps({"kind": "quota", "times": 1}).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (127.0.0.1 only)
            assert json.loads(resp.read())["kind"] == "quota"
        assert fake.faults["sfctm2"] == Fault(kind="quota", times=1)
        bad = urllib.request.Request(f"{url}/_fake/fault", data=b'{"kind": "nonsense"}', method="POST")
        try:
            urllib.request.urlopen(bad, timeout=10)  # noqa: S310
        except urllib.error.HTTPError as err:
            assert err.code == 400
            assert json.loads(err.read())["error"].startswith("kind:")
        else:
            raise AssertionError("an unknown fault kind was accepted")
        with urllib.request.urlopen(f"{url}/_fake/stats", timeout=10) as resp:  # noqa: S310
            stats = json.loads(resp.read())
    assert stats["faults"]["sfctm2"]["kind"] == "quota"
