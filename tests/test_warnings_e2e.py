"""Weather warnings through the running service, with the fake API Hub serving wrn_now_data.php.

The service is ``create_app`` as ``ticker serve`` builds it (Hub source, warnings poller, lease,
scheduler) on the real Redis; the fake Hub and the service share a fixed clock. A warnings cycle
is the warnings poller's own ``run_once``, as its schedule would run it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import FixedClock
from tests.support.helpers import wait_for
from tests.support.ops_support import has_cycle, sample
from tests.support.warnings_support import (
    KEY,
    SCENARIO,
    SEOUL_HEAT_WARNING,
    hub_settings,
    poll_warnings,
    surfaces,
)
from ticker.app import create_app
from ticker.commands import check
from ticker.config import Settings
from ticker.models import Station
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.web import keys


@pytest.fixture
async def hub(stations: list[Station], clock: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as fake:
        yield fake


async def _service(aiohttp_client, settings: Settings, stations, store: Store, clock, hub: FakeApiHub):
    svc_settings = hub_settings(settings, hub.base_url)
    app = create_app(
        svc_settings, stations=stations, redis=store.redis, clock=clock, registry=CollectorRegistry()
    )
    client = await aiohttp_client(app)
    await wait_for(lambda: has_cycle(store), what="the first poll cycle")
    await wait_for(lambda: _warnings_polled(store), what="the first warnings cycle")
    return client, svc_settings


async def _warnings_polled(store: Store) -> bool:
    return bool(await store.load_source("kma_warnings"))


async def test_warnings_in_effect_show_on_every_surface(
    store, aiohttp_client, settings, stations, clock, hub
):
    hub.set_warnings(SCENARIO)
    client, _ = await _service(aiohttp_client, settings, stations, store, clock, hub)
    assert await poll_warnings(client) == "ok"
    seen = await surfaces(client)
    assert hub.stats()["last_params"]["wrn_now"] == {
        "fe": "f",
        "tm": "",
        "disp": "0",
        "help": "1",
        "authKey": "***",
    }

    # 서울: the newest row is the 경보 (the older 주의 is not shown); 강릉: the preliminary wind
    # warning; 대구: a 호우 advisory on its parent region 대구 L1140000. The lifted 거제 advisory
    # and the 울릉 row (no station there) appear nowhere.
    expected = {108: ["폭염경보"], 105: ["강풍 예비특보"], 143: ["호우주의보"]}
    assert seen["widget"] == expected
    assert seen["frame"] == expected
    html = seen["widget_html"]
    assert "폭염주의보" not in html and "울릉" not in html and "거제 호우" not in html
    assert '<span class="kt-wper"> 29일 오후</span>' in html  # the preliminary warning's period
    # The leading item sums up, and screen readers hear each warning in full.
    assert "기상특보 3곳" in html
    assert "기상특보 발효 중, 3곳: 강릉 강풍 예비특보; 서울 폭염경보; 대구 호우주의보." in html
    assert "서울서북권 폭염경보, 7월 28일 10시 00분 발표" in html
    assert "강릉평지 강풍 예비특보, 7월 28일 14시 00분 발표, 29일 오후 예상" in html
    english = await (await client.get("/widget?lang=en")).text()
    assert "Heat wave warning" in english and "Strong wind preliminary warning" in english

    doc = seen["warnings"]
    assert doc["warnings_status"] == "ok"
    assert doc["checked_at"] == "2025-07-28T15:05:00+09:00"
    by_region = {w["region_id"]: w for w in doc["warnings"]}
    assert set(by_region) == {"L1100400", "L1022510", "L1140000"}
    seoul = by_region["L1100400"]
    assert (seoul["kind"], seoul["level"], seoul["badge"], seoul["badge_en"]) == (
        "폭염",
        "경보",
        "폭염경보",
        "Heat wave warning",
    )
    assert (seoul["issued_at"], seoul["effective_at"]) == (
        "2025-07-28T10:00:00+09:00",
        "2025-07-28T11:00:00+09:00",
    )
    assert (seoul["region_name"], seoul["parent_region_id"], seoul["station_ids"]) == (
        "서울서북권",
        "L1100000",
        [108],
    )
    assert by_region["L1140000"]["station_ids"] == [143]
    assert by_region["L1140000"]["planned_end"] == "28일 밤(21시~24시)"
    prelim = by_region["L1022510"]
    assert (prelim["level_en"], prelim["effective_at"], prelim["period_code"]) == (
        "preliminary",
        None,
        "202507291758",
    )
    assert (prelim["period_label"], prelim["period_label_en"]) == ("29일 오후", "afternoon of Jul 29")

    assert [w["badge"] for w in seen["seoul"]["warnings"]] == ["폭염경보"]
    assert seen["seoul"]["warnings_status"] == "ok"
    rows = {s["id"]: s for s in seen["observations"]["stations"]}
    assert seen["observations"]["warnings_status"] == "ok"
    assert [w["badge"] for w in rows[143]["warnings"]] == ["호우주의보"]
    assert rows[294]["warnings"] == [] and rows[159]["warnings"] == []

    # A warning lifted at the next answer leaves every surface.
    hub.set_warnings([w for w in SCENARIO if w.reg_id != "L1140000"])
    assert await poll_warnings(client) == "ok"
    seen = await surfaces(client)
    assert 143 not in seen["widget"] and "L1140000" not in {
        w["region_id"] for w in seen["warnings"]["warnings"]
    }


async def test_a_feed_older_than_max_age_removes_every_warning_and_goes_critical(
    store, aiohttp_client, settings, stations, clock, hub, capsys
):
    hub.set_warnings([SEOUL_HEAT_WARNING])
    client, svc_settings = await _service(aiohttp_client, settings, stations, store, clock, hub)
    assert await poll_warnings(client) == "ok"
    assert (await surfaces(client))["widget"] == {108: ["폭염경보"]}
    assert await check(svc_settings, stations, clock=clock) == 0
    capsys.readouterr()

    # The feed fails. Within max_age (1800 s) the last answer still counts.
    hub.set_fault(endpoint="wrn_now", kind="maintenance")
    clock.advance(minutes=20)
    assert await poll_warnings(client) == "error"
    assert (await surfaces(client))["widget"] == {108: ["폭염경보"]}
    assert await check(svc_settings, stations, clock=clock) == 1  # failing, not yet critical
    capsys.readouterr()

    # Past max_age the warnings go, on the clock alone: no new event, only the render tick.
    clock.advance(minutes=10, seconds=1)
    live = client.app[keys.LIVE]
    await live.rerender()
    seen = await surfaces(client)
    assert seen["widget"] == {} and seen["frame"] == {}
    assert "kt-wrn" not in seen["widget_html"] and "kt-wsum" not in seen["widget_html"]
    assert "기상특보" not in seen["widget_html"]
    assert seen["warnings"]["warnings_status"] == "unknown" and seen["warnings"]["warnings"] == []
    assert seen["observations"]["warnings_status"] == "unknown"
    assert all(s["warnings"] == [] for s in seen["observations"]["stations"])
    assert seen["seoul"]["warnings"] == [] and seen["seoul"]["warnings_status"] == "unknown"
    # The observations themselves are untouched.
    assert {s["id"] for s in seen["observations"]["stations"] if s["temperature_c"] is not None} == {
        s.id for s in stations
    }

    assert await check(svc_settings, stations, clock=clock) == 2
    line = capsys.readouterr().out.strip()
    assert line.startswith(
        "CRITICAL - 16 of 16 stations fresh; weather warnings feed kma_warnings answered not for 30 min"
    )
    assert "(maintenance: " in line
    freshness = json.loads(await (await client.get("/v1/freshness")).text())
    assert freshness["status"] == "critical" and freshness["warnings"]["status"] == "unknown"
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "ticker_warnings_up", source="kma_warnings") == 0.0
    assert sample(metrics, "ticker_warnings_max_age_seconds", source="kma_warnings") == 1800.0
    assert sample(metrics, "ticker_freshness_status") == 2.0
    status = await (await client.get("/status")).text()
    assert 'id="warnings-state">unknown</span> <span class="err">warnings are not shown' in status

    # It answers again: the warnings come back everywhere.
    hub.clear_faults()
    clock.advance(minutes=1)
    assert await poll_warnings(client) == "ok"
    seen = await surfaces(client)
    assert seen["widget"] == seen["frame"] == {108: ["폭염경보"]}
    assert seen["warnings"]["warnings_status"] == "ok"
    assert await check(svc_settings, stations, clock=clock) == 0
    assert capsys.readouterr().out.strip() == "OK - 16 of 16 stations fresh"
    metrics = await (await client.get("/metrics")).text()
    assert sample(metrics, "ticker_warnings_up", source="kma_warnings") == 1.0


async def test_not_applied_names_the_api_and_leaves_the_rest_alone(
    store, aiohttp_client, settings, stations, clock, hub, capsys
):
    hub.set_fault(endpoint="wrn_now", kind="not_applied")
    client, svc_settings = await _service(aiohttp_client, settings, stations, store, clock, hub)
    assert await poll_warnings(client) == "error"
    source = await store.load_source("kma_warnings")
    assert source["last_error_kind"] == "forbidden"
    assert "apply for the API Hub's 특보현황 조회 (wrn_now_data.php)" in source["last_error"]
    assert KEY not in json.dumps(source)
    seen = await surfaces(client)
    assert seen["widget"] == {} and seen["warnings"]["warnings_status"] == "unknown"
    # Observations poll and show as before; only the warnings feed is named.
    result = await client.app[keys.LIVE].refresh(store, force=True)
    assert result is True
    assert len(seen["observations"]["stations"]) == 16
    assert all(s["stale"] is False for s in seen["observations"]["stations"])
    assert hub.stats()["requests"]["sfctm2"] >= 1
    code = await check(svc_settings, stations, clock=clock)
    line = capsys.readouterr().out
    assert code == 2 and "kma_warnings" in line and "wrn_now_data.php" in line
    assert "kma_apihub failing" not in line
    status = await (await client.get("/status")).text()
    assert "특보현황 조회 (wrn_now_data.php)" in status
