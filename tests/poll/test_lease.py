"""The poll lease against a real Redis: SET NX PX, token-checked renew/release, fencing epochs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from tests.conftest import FixedClock, RedisServer
from tests.support.helpers import wait_for
from tests.support.ports import free_port
from ticker.embedded import start_redis_server, stop_redis_server
from ticker.metrics import Metrics
from ticker.models import Observation
from ticker.poll.lease import SAFETY, PollLease
from ticker.poll.poller import Poller
from ticker.poll.sources.sim import SimSource
from ticker.redis_client import connect
from ticker.store import Store
from ticker.tasks import stop_if_cancelled


class Monotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_store_lease_primitives_check_the_token(store: Store):
    keys = store.keys
    first, pttl = await store.acquire_lease("a", 60_000)
    assert pttl == 0 and first > 10**15  # seeded from Redis's clock, in microseconds
    epoch, pttl = await store.acquire_lease("b", 60_000)
    assert epoch == 0 and 59_000 < pttl <= 60_000  # held by a: b learns how long to wait
    assert await store.extend_lease("b", 60_000) is False
    assert await store.release_lease("b") is False
    assert await store.redis.get(keys.lease) == "a"
    assert await store.acquire_lease("a", 60_000) == (first, 0)  # renewing keeps the epoch
    holder, pttl = await store.lease_holder()
    assert holder == "a" and 59_000 < pttl <= 60_000
    assert await store.release_lease("a") is True
    assert await store.redis.exists(keys.lease) == 0
    assert await store.acquire_lease("b", 60_000) == (first + 1, 0)  # each acquisition: +1
    assert await store.redis.get(keys.epoch) == str(first + 1)


async def test_epochs_after_redis_lost_its_data_are_above_all_before(store: Store):
    await store.acquire_lease("a", 60_000)
    for _ in range(20):  # many takeovers
        last = await store.redis.incr(store.keys.epoch)
    await store.redis.flushall()
    after, _ = await store.acquire_lease("b", 60_000)
    assert after > last
    # So a former leader that was paused across the reset is still fenced.
    at = datetime(2025, 7, 28, 6, 0, tzinfo=UTC)
    obs = Observation(station_id=108, observed_at=at, fetched_at=at, source="t", temperature_c=1.0)
    assert await store.save_observations([obs], epoch=last) == -1


async def test_lease_is_held_only_until_a_margin_before_it_can_expire(store: Store):
    clock = Monotonic()
    changes: list[bool] = []
    lease = PollLease(store, ttl_s=30, holder="me", clock=clock, on_change=changes.append)
    step = await lease.step()
    assert step.acquired and lease.held
    first = lease.epoch
    assert lease.status() == {"held": True, "epoch": first, "token": "me"}
    assert step.delay_s == 10  # renew every third of the TTL
    clock.now += 30 * (1 - SAFETY) - 0.001
    assert lease.held
    clock.now += 0.002
    assert not lease.held  # Redis still has it for 3 s more: nobody else can hold it yet
    step = await lease.step()  # the key is still ours in Redis: regained, same epoch
    assert step.acquired and lease.held and lease.epoch == first
    assert changes == [True, False, True]
    await lease.release()
    assert changes == [True, False, True, False]


async def test_follower_waits_for_expiry_then_takes_over_with_a_new_epoch(store: Store):
    leader = PollLease(store, ttl_s=30, holder="leader")
    follower = PollLease(store, ttl_s=30, holder="follower")
    assert (await leader.step()).acquired
    first = leader.epoch
    assert first is not None
    step = await follower.step()
    assert not step.acquired and not follower.held
    assert step.delay_s == 10  # the lease has 30 s left: look again in a third of the TTL
    await store.redis.pexpire(store.keys.lease, 200)  # the leader died 29.8 s ago
    step = await follower.step()
    assert 0.1 < step.delay_s <= 0.211  # right after it runs out, not a full renew period later
    await wait_for(lambda: _gone(store), timeout=5, what="the dead leader's lease to expire")
    assert (await follower.step()).acquired
    assert follower.epoch == first + 1
    step = await leader.step()  # the old leader notices at its next renewal
    assert not step.acquired and not leader.held
    await follower.release()


async def _gone(store: Store) -> bool:
    return await store.redis.exists(store.keys.lease) == 0


async def test_a_paused_former_leader_is_fenced(stations, store: Store, clock: FixedClock, caplog):
    """It wakes with data that looks newer, but a newer epoch exists: it writes nothing."""
    old = PollLease(store, ttl_s=30, holder="old")
    new = PollLease(store, ttl_s=30, holder="new")
    old_poller = Poller(
        stations=stations,
        source=SimSource(),
        store=store,
        clock=clock,
        interval_s=60,
        epoch=lambda: old.epoch,
    )
    assert (await old.step()).acquired
    assert (await old_poller.run_once()).written == 16

    # The old leader freezes; its lease runs out and the new leader takes over and polls.
    await store.redis.delete(store.keys.lease)
    assert (await new.step()).acquired and new.epoch == old.epoch + 1  # type: ignore[operator]
    new_clock = FixedClock(clock.now)
    new_clock.advance(minutes=10)
    new_poller = Poller(
        stations=stations,
        source=SimSource(),
        store=store,
        clock=new_clock,
        interval_s=60,
        epoch=lambda: new.epoch,
    )
    assert (await new_poller.run_once()).written == 16
    before = await store.load_snapshot()

    # It wakes up and finishes the cycle it had started, with what looks like even newer data.
    clock.advance(minutes=20)
    result = await old_poller.run_once()
    assert result.outcome == "fenced" and result.written == 0 and result.epoch == old.epoch
    after = await store.load_snapshot()
    assert after == before
    await new.release()


async def test_leader_gauge_is_one_on_exactly_one_process_through_handovers(
    redis_server: RedisServer,
):
    """Three processes' worth of leases, each with its own registry; the leader pauses and dies."""
    ttl = 0.6
    clients = [connect(redis_server.url) for _ in range(3)]
    await clients[0].flushall()
    metrics = [Metrics(CollectorRegistry()) for _ in range(3)]
    leases = [
        PollLease(Store(c), ttl_s=ttl, holder=f"p{i}", on_change=m.is_leader.set)
        for i, (c, m) in enumerate(zip(clients, metrics, strict=True))
    ]
    tasks = {i: asyncio.create_task(_keep(lease)) for i, lease in enumerate(leases)}
    samples: list[float] = []
    overlaps: list[list[float]] = []

    def gauges() -> list[float]:
        return [m.registry.get_sample_value("ticker_is_leader") or 0.0 for m in metrics]

    try:
        handovers = 0
        leader = None
        while handovers < 3:
            await asyncio.sleep(0.005)
            values = gauges()
            samples.append(sum(values))
            if sum(values) > 1:
                overlaps.append(values)
            current = next((i for i, v in enumerate(values) if v == 1), None)
            if current is not None and current != leader:
                if leader is not None:
                    handovers += 1
                    # Resume the paused one: it must find the lease gone and stay a follower.
                    tasks[leader] = asyncio.create_task(_keep(leases[leader]))
                leader = current
                # Pause the leader: it stops renewing without releasing (a frozen process).
                tasks[leader].cancel()
            assert len(samples) < 2000, "no handover within 10 s"
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        for lease in leases:
            await lease.release()
        for client in clients:
            await client.aclose()
    assert overlaps == []
    assert max(samples) == 1


async def _keep(lease: PollLease) -> None:
    while True:
        # As in the service's own loops: a cancellation a client swallowed still stops us.
        stop_if_cancelled()
        step = await lease.step()
        await asyncio.sleep(step.delay_s)


async def test_redis_outage_keeps_the_lease_until_its_margin_then_drops_it(caplog):
    """While Redis is away the lease cannot be renewed: leadership ends on time, logged once."""

    port = free_port()
    proc = start_redis_server(port=port, data_dir=None)
    client: Redis = connect(f"redis://127.0.0.1:{port}/0")
    clock = Monotonic()
    lease = PollLease(Store(client), ttl_s=30, holder="me", clock=clock)
    try:
        assert (await lease.step()).acquired
        stop_redis_server(proc)
        caplog.set_level(logging.INFO, logger="ticker.poll.lease")
        for _ in range(3):
            clock.now += 5
            step = await lease.step()
            assert lease.held and step.delay_s == 1.0  # failing: retry every second
        failures = [r for r in caplog.records if "cannot reach Redis" in r.getMessage()]
        assert len(failures) == 1
        clock.now += 30
        await lease.step()
        assert not lease.held
        assert any("leader: no (not renewed in time)" in r.getMessage() for r in caplog.records)
    finally:
        await lease.release()
        await client.aclose()
        stop_redis_server(proc)
