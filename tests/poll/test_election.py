"""ElectedPoller: only the lease holder polls, takeovers keep the cadence, Redis faults pass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis

from tests.conftest import FixedClock
from tests.support.helpers import wait_for
from tests.support.ports import free_port
from ticker.embedded import start_redis_server, stop_redis_server
from ticker.errors import StoreError
from ticker.models import Observation, Station
from ticker.poll.election import ElectedPoller
from ticker.poll.lease import PollLease
from ticker.poll.poller import Poller
from ticker.poll.scheduler import JOB_ID
from ticker.poll.sources.sim import SimSource
from ticker.redis_client import connect
from ticker.store import Store


class CountingSource(SimSource):
    """The sim source, counting how often it is asked: the stand-in for upstream requests."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        self.calls += 1
        return await super().fetch(stations, now)


def _elected(stations, redis: Redis, clock, *, holder: str, ttl_s: float, interval_s: float):
    store = Store(redis)
    lease = PollLease(store, ttl_s=ttl_s, holder=holder)
    source = CountingSource()
    poller = Poller(
        stations=stations,
        source=source,
        store=store,
        clock=clock,
        interval_s=interval_s,
        epoch=lambda: lease.epoch,
    )
    return ElectedPoller(poller=poller, lease=lease, store=poller.store, interval_s=interval_s), source


async def test_takeover_keeps_the_cadence_and_an_emptied_redis_is_refilled_at_once(
    stations, redis: Redis, clock: FixedClock
):
    first, first_source = _elected(stations, redis, clock, holder="a", ttl_s=1.5, interval_s=60)
    second, second_source = _elected(stations, redis, clock, holder="b", ttl_s=1.5, interval_s=60)
    store = first.poller.store
    try:
        await first.start()
        await wait_for(lambda: _held(first), timeout=5, what="the first to lead")
        await second.start()
        await wait_for(lambda: _cycles(store, 1), timeout=10, what="the first poll")
        assert first.lease.held and not second.lease.held
        first_epoch = first.lease.epoch
        assert first_epoch is not None
        assert (first_source.calls, second_source.calls) == (1, 0)

        await first.stop()  # graceful: the lease is released, not left to expire
        assert await redis.get(store.keys.lease) != "a"
        await wait_for(lambda: _held(second), timeout=5, what="the takeover")
        # The last poll was moments ago: the new leader waits out the interval instead of
        # polling again at once (one upstream request per interval across the fleet).
        job = second._scheduler.get_job(JOB_ID)
        wait = (job.next_run_time - datetime.now(job.next_run_time.tzinfo)).total_seconds()
        assert 55 < wait <= 60
        assert second_source.calls == 0 and second.lease.epoch == first_epoch + 1

        await redis.flushall()  # Redis comes back empty: no lease, no heartbeat, no data
        await wait_for(lambda: _station_count(store, 16), timeout=5, what="repopulation")
        assert second_source.calls == 1
    finally:
        await first.stop()
        await second.stop()
    assert await redis.exists(store.keys.lease) == 0


async def _cycles(store: Store, n: int) -> bool:
    return len(await store.load_cycles()) >= n


async def _held(elected: ElectedPoller) -> bool:
    return elected.lease.held


async def _station_count(store: Store, n: int) -> bool:
    return len((await store.load_snapshot()).observations) == n


async def test_observations_fetched_while_redis_was_away_are_written_when_it_returns(
    stations, tmp_path: Path, clock: FixedClock
):
    """A short outage: the lease survives in the persisted Redis; kept data goes in at the next
    renewal (every 2 s here), without polling again."""
    port = free_port()
    proc = start_redis_server(port=port, data_dir=tmp_path)
    redis = connect(f"redis://127.0.0.1:{port}/0")
    elected, source = _elected(stations, redis, clock, holder="a", ttl_s=6, interval_s=3600)
    store = elected.poller.store
    try:
        await elected.start()
        await wait_for(lambda: _station_count(store, 16), timeout=10, what="the first poll")
        first = await store.load_snapshot()
        epoch = elected.lease.epoch

        stop_redis_server(proc)
        clock.advance(minutes=10)
        result = await elected.poller.run_once()  # the upstream answers, Redis does not
        assert result.outcome == "store_error" and result.fetched == 16
        assert source.calls == 2

        proc = start_redis_server(port=port, data_dir=tmp_path)
        await wait_for(
            lambda: _version_above(store, first.version),
            timeout=10,
            what="the kept observations to be written",
        )
        assert source.calls == 2  # written from memory, not polled again
        after = await store.load_snapshot()
        assert all(
            after.observations[sid].observed_at > first.observations[sid].observed_at
            for sid in first.observations
        )
        assert elected.lease.held and elected.lease.epoch == epoch  # the same term throughout
    finally:
        await elected.stop()
        await redis.aclose()
        stop_redis_server(proc)


async def _version_above(store: Store, version: int) -> bool:
    try:
        return await store.load_version() > version
    except StoreError:  # Redis may still be starting
        return False
