"""One poll cycle: fetch -> QC -> store, failures keep the last good data and log transitions only."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from tests.conftest import FixedClock
from ticker.errors import UpstreamTimeoutError
from ticker.models import Observation, Station
from ticker.poll.poller import Poller
from ticker.poll.sources.sim import SimSource
from ticker.store import Store


class ScriptedSource:
    """A source whose next answers a test decides: a list of rows or an error to raise."""

    name = "scripted"

    def __init__(self) -> None:
        self.sim = SimSource()
        self.fail: Exception | None = None
        self.calls = 0

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return await self.sim.fetch(stations, now)

    async def close(self) -> None:
        return None


def _poller(stations, store, clock, source) -> Poller:
    return Poller(stations=stations, source=source, store=store, clock=clock, interval_s=60)


async def test_cycle_writes_all_stations_once(stations, store: Store, clock: FixedClock):
    poller = _poller(stations, store, clock, SimSource())
    first = await poller.run_once()
    assert (first.outcome, first.fetched, first.written, first.missing) == ("ok", 16, 16, [])
    again = await poller.run_once()  # same slot: nothing newer
    assert (again.outcome, again.written) == ("ok", 0)
    clock.advance(minutes=10)
    assert (await poller.run_once()).written == 16
    assert (await store.load_snapshot()).version == 2
    heartbeat = await store.load_heartbeat()
    assert heartbeat is not None and heartbeat["outcome"] == "ok"
    assert len(await store.load_cycles()) == 3


async def test_failures_keep_data_and_log_once_then_recovery(stations, store, clock, caplog):
    source = ScriptedSource()
    poller = _poller(stations, store, clock, source)
    await poller.run_once()
    good = await store.load_snapshot()

    source.fail = UpstreamTimeoutError("no answer within 10 s")
    caplog.set_level(logging.INFO, logger="ticker.poll.poller")
    for _ in range(3):
        clock.advance(minutes=10)
        result = await poller.run_once()
        assert (result.outcome, result.error_kind) == ("error", "timeout")
    assert await store.load_snapshot() == good
    failing = [r for r in caplog.records if "failing" in r.getMessage()]
    assert len(failing) == 1
    state = await store.load_source("scripted")
    assert state["last_error_kind"] == "timeout" and state["errors:timeout"] == "3"

    source.fail = None
    clock.advance(minutes=10)
    assert (await poller.run_once()).outcome == "ok"
    assert [r.getMessage() for r in caplog.records if "recovered" in r.getMessage()] == [
        "source scripted recovered after timeout"
    ]
    assert (await store.load_snapshot()).version == good.version + 1


async def test_rows_kept_while_redis_is_away_are_written_on_return(stations, redis_server, clock):
    from tests.support.ports import free_port
    from ticker.redis_client import connect

    # A client pointed at a port where nothing listens stands for Redis being away.
    away = connect(f"redis://127.0.0.1:{free_port()}/0")
    source = ScriptedSource()
    poller = _poller(stations, Store(away), clock, source)
    result = await poller.run_once()
    assert result.outcome == "store_error"
    await away.aclose()

    back = connect(redis_server.url)
    await back.flushall()
    poller.store = Store(back)
    source.fail = UpstreamTimeoutError("no answer")  # the kept rows are all there is to write
    result = await poller.run_once()
    assert (result.outcome, result.written) == ("error", 16)
    assert len((await poller.store.load_snapshot()).observations) == 16
    await back.aclose()
