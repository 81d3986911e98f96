"""End to end against the fake API Hub: stop it, stations go stale everywhere; start it, fresh.

The service runs as ``ticker serve`` builds it (``create_app`` with the KMA source, the circuit,
the scheduler and the ops hook) on the real Redis. The fake Hub and the service share a fixed
clock that the test moves five minutes per poll cycle, as the scheduler would at the KMA
interval; each cycle is the poller's own ``run_once``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from aiohttp.web import Application, Request
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tests.conftest import FixedClock
from tests.support.helpers import wait_for
from tests.support.ops_support import has_cycle, parse_status, sample, samples
from ticker.app import POLLER, create_app
from ticker.commands import check
from ticker.config import Settings
from ticker.freshness import Cycle
from ticker.models import KST, Station
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.web import keys

KEY = "Hub-Key-For-Ops-0042"
STEP_MIN = 5


@pytest.fixture
def e2e_stations(stations: list[Station]) -> list[Station]:
    # Seoul gets a tighter limit than the 2 h default: each station turns stale by its own max_age.
    return [s.model_copy(update={"max_age_s": 90 * 60}) if s.id == 108 else s for s in stations]


@pytest.fixture
async def hub(e2e_stations: list[Station], clock: FixedClock) -> AsyncIterator[FakeApiHub]:
    async with FakeApiHub(stations=e2e_stations, auth_key=KEY, clock=clock) as fake:
        yield fake


@pytest.fixture
def hub_settings(settings: Settings, hub: FakeApiHub) -> Settings:
    return settings.model_copy(
        update={
            "source": "kma_apihub",
            "kma_auth_key": SecretStr(KEY),
            "kma_base_url": hub.base_url,
            "kma_timeout_s": 1.0,
            "kma_retries": 0,
            "poll_interval_s": 300.0,
            # Observations only: the warnings feed (polled once at start) must not age out here;
            # tests/test_warnings_e2e.py covers it.
            "warnings_max_age_s": 86400.0,
            "poll_timing": "interval",  # every cycle asks the hourly table: an outage shows at once
        }
    )


class Service:
    """The running service and the surfaces ops look at."""

    def __init__(
        self,
        client: TestClient[Request, Application],
        settings: Settings,
        stations: list[Station],
        clock,
    ):
        self.client, self.settings, self.stations, self.clock = client, settings, stations, clock
        self.app = client.app

    async def cycle(self) -> Cycle:
        """Five minutes pass and the scheduler runs the next poll cycle."""
        self.clock.advance(minutes=STEP_MIN)
        result = await self.app[POLLER].run_once()
        await self.app[keys.LIVE].refresh(self.app[keys.STORE])
        return result

    async def states(self) -> dict[str, dict[int, str]]:
        """Each station's state as /v1/freshness, /status, /metrics and ticker check see it."""
        doc = json.loads(await (await self.client.get("/v1/freshness")).text())
        page = parse_status(await (await self.client.get("/status")).text())
        metrics = samples(await (await self.client.get("/metrics")).text())
        from_metrics = {}
        for st in self.stations:
            for state in ("fresh", "late", "stale", "missing"):
                labels = {"station": str(st.id), "name": st.name, "state": state}
                if metrics.get(("ticker_station_state", frozenset(labels.items()))) == 1.0:
                    from_metrics[st.id] = state
        return {
            "json": {s["id"]: s["state"] for s in doc["stations"]},
            "status": page.states,
            "metrics": from_metrics,
        }

    async def check(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        code = await check(self.settings, self.stations, clock=self.clock)
        return code, capsys.readouterr().out.strip()


async def test_stop_the_upstream_stale_everywhere_start_it_fresh_again(
    store: Store,
    aiohttp_client,
    hub: FakeApiHub,
    hub_settings: Settings,
    e2e_stations: list[Station],
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ticker")
    registry = CollectorRegistry()
    app = create_app(hub_settings, stations=e2e_stations, redis=store.redis, clock=clock, registry=registry)
    svc = Service(await aiohttp_client(app), hub_settings, e2e_stations, clock)
    await wait_for(lambda: has_cycle(store), what="the scheduler's first cycle")
    await svc.app[keys.LIVE].refresh(store)
    ids = [s.id for s in e2e_stations]

    # 15:05 KST: the 15:00 rows are in; everything is fresh.
    everywhere = await svc.states()
    assert everywhere == {k: dict.fromkeys(ids, "fresh") for k in ("json", "status", "metrics")}
    assert await svc.check(capsys) == (0, "OK - 16 of 16 stations fresh")

    # Stop the fake Hub: connection refused from now on.
    port = int(hub.base_url.rsplit(":", 1)[1])
    await hub.stop()
    outcomes = []
    seoul_stale_at = others_stale_at = None
    while others_stale_at is None:
        outcomes.append((await svc.cycle()).outcome)
        states = await svc.states()
        for surface, by_id in states.items():
            assert set(by_id) == set(ids), surface
        # All surfaces agree on every station at every step.
        assert states["json"] == states["status"] == states["metrics"]
        seoul = states["json"][108]
        others = {v for k, v in states["json"].items() if k != 108}
        now = clock().astimezone(KST).strftime("%H:%M")
        code, _ = await svc.check(capsys)
        assert code == (2 if seoul == "stale" else 1)  # 1: the upstream fails, data still usable
        if seoul == "stale" and seoul_stale_at is None:
            seoul_stale_at = now
        if others == {"stale"}:
            others_stale_at = now
        assert len(outcomes) < 40, outcomes

    # The 15:00 rows: Seoul (max_age 90 min) is stale from 16:35, the rest (2 h) from 17:05.
    assert seoul_stale_at == "16:35"
    assert others_stale_at == "17:05"
    assert outcomes[0] == "error"
    assert "circuit_open" in outcomes  # the poller backed off; the heartbeat still beat
    code, line = await svc.check(capsys)
    assert code == 2
    assert line.startswith("CRITICAL - 0 of 16 stations fresh; 16 of 16 stations stale or missing: ")
    assert "kma_apihub failing, last at " in line and "(connection: " in line
    metrics = await (await svc.client.get("/metrics")).text()
    assert sample(metrics, "ticker_source_up", source="kma_apihub") == 0.0
    assert sample(metrics, "ticker_freshness_status") == 2.0
    page = parse_status(await (await svc.client.get("/status")).text())
    assert page.overall == "critical"
    assert page.rows[108][7].startswith("connection")  # last error column

    # Start it again on the same address: the next cycle that reaches it makes everything fresh.
    await hub.start(port=port)
    while (result := await svc.cycle()).outcome == "circuit_open":
        assert clock().hour < 12, "the circuit never let a cycle through"
    assert result.outcome == "ok", result
    everywhere = await svc.states()
    assert everywhere == {k: dict.fromkeys(ids, "fresh") for k in ("json", "status", "metrics")}
    assert await svc.check(capsys) == (0, "OK - 16 of 16 stations fresh")
    metrics = await (await svc.client.get("/metrics")).text()
    assert sample(metrics, "ticker_source_up", source="kma_apihub") == 1.0
    assert (await svc.client.get("/readyz")).status == 200

    # One log line per station going stale and one on recovery; one for the source each way.
    lines = [r.getMessage() for r in caplog.records]
    for st in e2e_stations:
        assert sum(f"station {st.id} {st.name} is stale" in m for m in lines) == 1, st.id
        assert sum(f"station {st.id} {st.name} fresh again" in m for m in lines) == 1, st.id
    assert sum(m.startswith("source kma_apihub failing") for m in lines) == 1
    assert sum(m.startswith("source kma_apihub recovered") for m in lines) == 1
    assert KEY not in "\n".join(lines)
