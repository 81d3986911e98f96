"""The Redis store against a real redis-server: newer-only writes, versioned snapshot, pub/sub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.helpers import wait_for
from ticker.models import Observation
from ticker.store import Store

T0 = datetime(2025, 7, 28, 6, 0, tzinfo=UTC)


def obs(station_id: int, at: datetime, temp: float) -> Observation:
    return Observation(
        station_id=station_id, observed_at=at, fetched_at=at, source="test", temperature_c=temp
    )


async def test_only_newer_observations_are_written(store: Store):
    assert await store.save_observations([obs(108, T0, 20.0), obs(159, T0, 25.0)]) == 2
    assert await store.save_observations([obs(108, T0 - timedelta(hours=1), 1.0)]) == 0  # older
    assert await store.save_observations([obs(108, T0, 2.0)]) == 0  # same time
    assert await store.save_observations([obs(108, T0 + timedelta(hours=1), 21.0)]) == 1
    snap = await store.load_snapshot()
    assert snap.version == 2
    assert snap.observations[108].temperature_c == 21.0
    assert snap.observations[159].temperature_c == 25.0


async def test_snapshot_round_trips_every_field(store: Store):
    full = Observation(
        station_id=108,
        observed_at=T0,
        fetched_at=T0 + timedelta(minutes=4),
        source="sim",
        temperature_c=-9.0,
        condition="snow",
        humidity_pct=80.0,
        wind_speed_ms=3.4,
        wind_dir_deg=270.0,
        precipitation_mm=1.5,
    )
    await store.save_observations([full])
    await store.record_fetch([108], T0 + timedelta(minutes=4))
    snap = await store.load_snapshot()
    assert snap.observations[108] == full
    assert snap.fetched_at[108] == (T0 + timedelta(minutes=4)).timestamp()


async def test_empty_store_is_version_zero(store: Store):
    snap = await store.load_snapshot()
    assert snap.version == 0 and snap.observations == {}
    assert await store.save_observations([]) == 0


async def test_a_write_announces_the_new_version(store: Store):
    pubsub = store.redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(store.keys.updates)
    try:
        await store.save_observations([obs(108, T0, 20.0)])
        got: list[str] = []

        async def announced() -> bool:
            msg = await pubsub.get_message(timeout=0.1)
            if msg:
                got.append(msg["data"])
            return bool(got)

        await wait_for(announced, timeout=5, what="the version announcement")
        assert got == ["1"]
    finally:
        await pubsub.aclose()


async def test_a_stale_fencing_epoch_writes_nothing(store: Store):
    await store.redis.set(store.keys.epoch, 5)
    assert await store.save_observations([obs(108, T0, 20.0)], epoch=4) == -1
    assert (await store.load_snapshot()).observations == {}
    assert await store.save_observations([obs(108, T0, 20.0)], epoch=5) == 1
