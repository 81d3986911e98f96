"""No future: a row stamped after now is never stored or shown, and one stored before is replaced."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from tests.conftest import FixedClock
from tests.support.helpers import parse_widget
from ticker.freshness import assess
from ticker.models import Station
from ticker.poll.poller import Poller
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.kma_apihub import KmaApiHubSource
from ticker.store import Store
from ticker.testing.fake_upstream import FakeApiHub
from ticker.web.render import render_widget
from ticker.web.view import build_view, observations_document

KEY = "future-test-key"


def shown(stations: list[Station], snap_obs, now: datetime) -> dict[int, str]:
    """Each station's temperature as the widget and the JSON show it (absent: not shown)."""
    view = build_view(stations, snap_obs, now, version=1, hard_max_age_s=21600)
    html = render_widget(view)
    doc = observations_document(view)
    assert "45.5" not in html and "45.5" not in doc.model_dump_json()
    for row in doc.stations:
        assert row.age_s is None or row.age_s >= 0
    return {int(s["id"]): s["temp"] for s in parse_widget(html).stations if s["temp"]}


async def test_a_row_nine_minutes_ahead_is_never_shown_and_the_next_cycle_is(
    stations: list[Station], store: Store
):
    # 14:51 KST: the fake also sends a 15:00 row for station 159 (45.5 ℃), nine minutes ahead.
    clock = FixedClock(datetime(2025, 7, 28, 5, 51, tzinfo=UTC))
    async with (
        FakeApiHub(stations=stations, auth_key=KEY, clock=clock) as fake,
        aiohttp.ClientSession() as http,
    ):
        source = KmaApiHubSource(session=http, auth_key=KEY, base_url=fake.base_url, retry=NO_RETRY)
        poller = Poller(stations=stations, source=source, store=store, clock=clock, interval_s=300)

        # A row an earlier release accepted from the future is already stored for 159.
        fake.set_fault(future=[159], future_minutes=9)
        rows = await source.fetch(stations, clock())
        ahead = next(r for r in rows if r.station_id == 159 and r.temperature_c == 45.5)
        assert (ahead.observed_at - clock()).total_seconds() == 9 * 60
        assert await store.save_observations([ahead]) == 1  # no clock given: stored as before

        snap = await store.load_snapshot()
        assert snap.observations[159].temperature_c == 45.5
        assert 159 not in shown(stations, snap.observations, clock())
        fresh = {f.id: f for f in assess(stations, snap.observations, snap.fetched_at, clock())}
        assert fresh[159].state.value == "missing" and fresh[159].age_s is None

        # The next cycle: the future row is refused again, and the correct 14:00 row replaces it.
        result = await poller.run_once()
        assert result.rejected.get("future") == 1
        snap = await store.load_snapshot()
        stored = snap.observations[159]
        assert stored.temperature_c != 45.5
        assert stored.observed_at == datetime(2025, 7, 28, 5, 0, tzinfo=UTC)
        assert float(fake.last_rows[159]["TA"]) == stored.temperature_c
        assert shown(stations, snap.observations, clock())[159] == f"{stored.temperature_c:.1f}℃"
        fresh = {f.id: f for f in assess(stations, snap.observations, snap.fetched_at, clock())}
        assert fresh[159].age_s == 51 * 60

        # A later cycle does not bring the future row back.
        clock.advance(minutes=5)
        assert (await poller.run_once()).rejected.get("future") == 1
        assert (await store.load_snapshot()).observations[159].temperature_c == stored.temperature_c
