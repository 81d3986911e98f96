"""A web process's snapshot when Redis loses or rewinds its data: no station goes back or away."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from tests.conftest import FixedClock
from tests.support.helpers import wait_for
from tests.support.ports import free_port
from ticker.embedded import start_redis_server, stop_redis_server
from ticker.models import Observation
from ticker.poll.poller import Poller
from ticker.poll.sources.sim import SimSource
from ticker.redis_client import connect
from ticker.store import Snapshot, Store
from ticker.web.snapshot import LiveSnapshot, follow_updates, keep_newer


async def test_redis_back_empty_keeps_the_widget_then_takes_the_new_data(
    stations, store: Store, clock: FixedClock
):
    poller = Poller(stations=stations, source=SimSource(), store=store, clock=clock, interval_s=60)
    live = LiveSnapshot(stations, clock=clock, hard_max_age_s=6 * 3600)
    await poller.run_once()
    assert await live.refresh(store)
    before = dict(live.snapshot.observations)
    assert len(before) == 16

    await store.redis.flushall()  # Redis restarted without its data
    await live.refresh(store)
    assert live.snapshot.observations == before  # still all 16, as they were
    assert len(live.view().items) == 16

    clock.advance(minutes=10)
    await poller.run_once()  # the poller refills Redis with newer observations
    assert await live.refresh(store)
    assert all(
        live.snapshot.observations[sid].observed_at == before[sid].observed_at + timedelta(minutes=10)
        for sid in before
    )
    assert live.snapshot.version == 1  # Redis's own count restarted; we follow it


async def test_keep_newer_takes_newer_keeps_newer_and_never_drops(stations, store: Store, clock: FixedClock):
    sim = SimSource()
    old = {o.station_id: o for o in await sim.fetch(stations[:3], clock.now)}
    new = {o.station_id: o for o in await sim.fetch(stations[:3], clock.now + timedelta(hours=1))}
    a, b, c = (s.id for s in stations[:3])

    current = Snapshot(version=7, observations={a: new[a], b: old[b], c: old[c]}, fetched_at={a: 1.0})
    loaded = Snapshot(version=3, observations={a: old[a], b: new[b]}, fetched_at={a: 0.5, b: 2.0})
    merged = keep_newer(current, loaded)
    assert merged.version == 3
    assert merged.observations == {a: new[a], b: new[b], c: old[c]}
    assert merged.fetched_at == {a: 1.0, b: 2.0}
    same = Snapshot(version=8, observations={a: new[a], b: new[b], c: old[c]})
    assert keep_newer(current, same) is same  # nothing older or missing: taken as is


async def test_after_a_redis_restart_the_same_version_number_is_not_taken_for_the_same_data(
    stations, clock: FixedClock, tmp_path
):
    """Redis restarts from another dump whose counter is at the same number, with newer data."""
    port = free_port()
    proc = start_redis_server(port=port, data_dir=None)
    redis = connect(f"redis://127.0.0.1:{port}/0")
    store = Store(redis)
    live = LiveSnapshot(stations, clock=clock, hard_max_age_s=6 * 3600)
    follower = asyncio.create_task(follow_updates(live, store, check_interval_s=0.05))
    try:
        await Poller(
            stations=stations, source=SimSource(), store=store, clock=clock, interval_s=60
        ).run_once()
        await wait_for(lambda: _has_version(live, 1), timeout=10, what="the first snapshot")
        first = dict(live.snapshot.observations)

        # Another Redis gets newer data, also as its version 1, and saves a dump.
        other_port = free_port()
        no_aof = ["--appendonly", "no"]
        other = start_redis_server(port=other_port, data_dir=tmp_path, extra=no_aof)
        other_redis = connect(f"redis://127.0.0.1:{other_port}/0")
        later = FixedClock(clock.now)
        later.advance(minutes=10)
        await Poller(
            stations=stations, source=SimSource(), store=Store(other_redis), clock=later, interval_s=60
        ).run_once()
        await other_redis.save()
        await other_redis.aclose()
        stop_redis_server(other)

        # Our Redis restarts from that dump: the follower reconnects to version 1 again.
        stop_redis_server(proc)
        proc = start_redis_server(port=port, data_dir=tmp_path, extra=no_aof)
        assert await store.load_version() == 1
        await wait_for(lambda: _newer_than(live, first), timeout=10, what="the new data")
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await redis.aclose()
        stop_redis_server(proc)


async def _has_version(live: LiveSnapshot, version: int) -> bool:
    return live.snapshot.version == version


async def _newer_than(live: LiveSnapshot, before: dict[int, Observation]) -> bool:
    now = live.snapshot.observations
    return len(now) == 16 and all(now[sid].observed_at > before[sid].observed_at for sid in before)
