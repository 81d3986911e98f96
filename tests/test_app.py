"""The app through aiohttp's test client, against a real Redis and the sim source."""

from __future__ import annotations

import json

from tests.support.helpers import parse_widget, poll_sim, web_app
from ticker.config import Settings
from ticker.models import ATTRIBUTION_SIM


async def test_widget_shows_every_station_in_order(aiohttp_client, settings, stations, store, clock):
    await poll_sim(stations, store, clock)
    client = await aiohttp_client(web_app(settings, stations, store, clock))
    resp = await client.get("/widget")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    page = parse_widget(await resp.text())
    assert page.date.strip() == "2025.07.28 (월)"
    assert page.attribution.strip() == ATTRIBUTION_SIM  # simulated values never under KMA's name
    assert [int(s["id"]) for s in page.stations] == [s.id for s in stations]
    assert [s["name"] for s in page.stations] == [s.name for s in stations]
    for shown in page.stations:
        assert shown["temp"].endswith("℃")
        value = shown["temp"].removesuffix("℃")
        assert value == f"{float(value):.1f}"


async def test_observations_document_has_the_contract_shape(aiohttp_client, settings, stations, store, clock):
    await poll_sim(stations, store, clock)
    client = await aiohttp_client(web_app(settings, stations, store, clock))
    resp = await client.get("/v1/observations")
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    doc = json.loads(await resp.text())
    assert doc["generated_at"] == "2025-07-28T15:05:00+09:00"
    assert doc["date_label"] == "2025.07.28 (월)"
    assert doc["attribution"] == ATTRIBUTION_SIM and doc["simulated"] is True
    assert [s["id"] for s in doc["stations"]] == [s.id for s in stations]
    seoul = next(s for s in doc["stations"] if s["id"] == 108)
    for key in (
        "id",
        "name",
        "name_en",
        "observed_at",
        "temperature_c",
        "condition",
        "condition_label",
        "humidity_pct",
        "wind_speed_ms",
        "precipitation_mm",
        "stale",
    ):
        assert key in seoul
    assert seoul["name"] == "서울" and seoul["name_en"] == "Seoul"
    assert seoul["observed_at"] == "2025-07-28T15:00:00+09:00"
    assert seoul["stale"] is False
    assert isinstance(seoul["temperature_c"], float)


async def test_station_route_and_unknown_station(aiohttp_client, settings, stations, store, clock):
    await poll_sim(stations, store, clock)
    client = await aiohttp_client(web_app(settings, stations, store, clock))
    resp = await client.get("/v1/stations/108")
    assert resp.status == 200
    assert json.loads(await resp.text())["name"] == "서울"
    for bad in ("/v1/stations/999", "/v1/stations/abc", "/v1/stations/0108"):
        resp = await client.get(bad)
        assert resp.status == 404, bad
        assert resp.headers["Cache-Control"] == "no-store"
        assert json.loads(await resp.text())["error"] == "not_found"


async def test_embedded_settings_default_to_sim() -> None:
    settings = Settings(_env_file=None)
    assert settings.effective_source == "sim"
    assert settings.redis_url is None
    keyed = Settings(_env_file=None, kma_auth_key="k")
    assert keyed.effective_source == "kma_apihub"


class _Relabelled:
    """The sim values under another source name: what a real upstream's observations look like."""

    def __init__(self, name: str) -> None:
        from ticker.poll.sources.sim import SimSource

        self.name = name
        self._sim = SimSource()

    async def fetch(self, stations, now):
        return [o.model_copy(update={"source": self.name}) for o in await self._sim.fetch(stations, now)]

    async def close(self) -> None:
        return None


async def test_kma_values_are_credited_to_kma_and_one_simulated_value_changes_that(
    aiohttp_client, settings, stations, store, clock
):
    from ticker.poll.poller import Poller

    poller = Poller(
        stations=stations, source=_Relabelled("kma_apihub"), store=store, clock=clock, interval_s=60
    )
    assert (await poller.run_once()).outcome == "ok"
    client = await aiohttp_client(web_app(settings, stations, store, clock))
    assert parse_widget(await (await client.get("/widget")).text()).attribution.strip() == "기상청 제공"
    en = await (await client.get("/widget/frame?lang=en")).text()
    assert "Source: KMA" in en and "Simulated" not in en
    doc = await (await client.get("/v1/observations")).json()
    assert (doc["attribution"], doc["simulated"]) == ("기상청 제공", False)
    doc = await (await client.get("/v1/warnings")).json()
    assert (doc["attribution"], doc["simulated"]) == ("기상청 제공", False)

    # One station's value from the simulation: the whole strip says so (and only that station's
    # JSON row names the source).
    one = Poller(stations=stations[:1], source=_Relabelled("sim"), store=store, clock=clock, interval_s=60)
    clock.advance(hours=1)  # a newer observation: the store keeps only newer ones
    assert (await one.run_once()).outcome == "ok"
    client = await aiohttp_client(web_app(settings, stations, store, clock))
    assert parse_widget(await (await client.get("/widget")).text()).attribution.strip() == ATTRIBUTION_SIM
    # A strip of other stations shows no simulated value: KMA's credit stays.
    others = ",".join(str(s.id) for s in stations[1:3])
    page = parse_widget(await (await client.get(f"/widget?stations={others}")).text())
    assert page.attribution.strip() == "기상청 제공"
    doc = await (await client.get("/v1/observations")).json()
    assert (doc["attribution"], doc["simulated"]) == (ATTRIBUTION_SIM, True)
    doc = await (await client.get("/v1/warnings")).json()
    assert (doc["attribution"], doc["simulated"]) == (ATTRIBUTION_SIM, True)
