"""Three `ticker serve` replicas on one real Redis: one elected poller, replaced when it dies."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from tests.support.fleet import Fleet, cycles, lease_pid, report
from tests.support.helpers import wait_until
from ticker.models import Station
from ticker.testing.fake_upstream import FakeApiHub, running_in_thread

INTERVAL_S = 1.0
TTL_S = 3.0


def _overlaps(spans: list[tuple[str, float, float]]) -> list[tuple[str, str]]:
    """Pairs of replicas whose leadership spans overlap in time."""
    out = []
    ordered = sorted(spans, key=lambda s: s[1])
    for (name_a, _, end_a), (name_b, start_b, _) in itertools.pairwise(ordered):
        if start_b < end_a:
            out.append((name_a, name_b))
    return out


def test_three_replicas_poll_once_per_interval_and_a_killed_leader_is_replaced(
    tmp_path: Path, stations: list[Station], capsys: pytest.CaptureFixture[str]
):
    hub = FakeApiHub(stations=stations, auth_key="replica-test-key")
    with running_in_thread(hub) as hub_url, Fleet(tmp_path) as fleet:
        upstream = {
            "TICKER_SOURCE": "kma_apihub",
            "TICKER_KMA_BASE_URL": hub_url,
            "TICKER_KMA_AUTH_KEY": "replica-test-key",
            "TICKER_FALLBACK": "none",
            "TICKER_POLL_TIMING": "interval",  # the hourly table on every cycle: one per interval
            "TICKER_WORD_FEEDS": "none",
        }
        replicas = [
            fleet.add(f"r{i}", interval_s=INTERVAL_S, lease_ttl_s=TTL_S, env=upstream) for i in range(3)
        ]
        for replica in replicas:
            replica.wait_healthy()
        redis = fleet.redis.client()
        wait_until(lambda: len(cycles(redis)) >= 1, timeout=15, what="the first poll")

        # Steady state: count the upstream's requests, and the cycles recorded in Redis, over a
        # window of intervals.
        seen = {c.started_at: c for c in cycles(redis)}
        t0, r0 = time.time(), hub.counts["sfctm2"]
        window = 8

        def counted() -> bool:
            seen.update({c.started_at: c for c in cycles(redis)})
            return hub.counts["sfctm2"] >= r0 + window

        wait_until(counted, timeout=window * INTERVAL_S * 4, what=f"{window} more upstream requests")
        elapsed = time.time() - t0
        requests = hub.counts["sfctm2"] - r0
        per_interval = requests / (elapsed / INTERVAL_S)
        epochs = {c.epoch for c in seen.values()}
        report(
            capsys,
            f"\n3 replicas: {requests} upstream requests in {elapsed:.2f}s = "
            f"{per_interval:.2f} per {INTERVAL_S:.0f}s interval, "
            f"epochs {sorted(epochs, key=str)}",
        )
        assert len(epochs) == 1  # one leader all along
        (first_epoch,) = epochs
        assert all(c.outcome == "ok" for c in seen.values())
        # Three pollers would make ~3 per interval; one makes at most one per scheduled slot.
        assert per_interval <= 1.3
        leaders = [r for r in replicas if "leader: yes" in r.log_text()]
        assert len(leaders) == 1

        # Kill the holder outright: no release, its lease has to run out.
        leader = fleet.by_pid(lease_pid(redis))  # type: ignore[arg-type]
        assert leader is leaders[0]
        killed_at = time.time()
        leader.kill()

        def new_epoch_polled() -> bool:
            return any(c.epoch != first_epoch for c in cycles(redis))

        wait_until(new_epoch_polled, timeout=TTL_S * 5, what="a poll by a new leader")
        first_new = min(c.started_at for c in cycles(redis) if c.epoch != first_epoch)
        takeover_s = first_new - killed_at
        successor = fleet.by_pid(lease_pid(redis))  # type: ignore[arg-type]
        report(
            capsys, f"leader SIGKILLed; {successor.name} polled {takeover_s:.2f}s later (lease TTL {TTL_S}s)"
        )
        assert successor is not leader
        assert takeover_s <= TTL_S + 1.0
        assert max(c.started_at for c in cycles(redis) if c.epoch == first_epoch) < killed_at
        assert {c.epoch for c in cycles(redis)} == {first_epoch, (first_epoch or 0) + 1}

        # ticker_is_leader: the spans each replica logged as leader never overlap.
        wait_until(
            lambda: sum(c.epoch == (first_epoch or 0) + 1 for c in cycles(redis)) >= 3,
            timeout=15,
            what="the new leader to settle",
        )
        now = time.time()
        spans = [
            (r.name, start, min(end, killed_at) if r is leader else end)
            for r in replicas
            for start, end in r.leadership(until=now)
        ]
        in_order = [name for name, _, _ in sorted(spans, key=lambda s: s[1])]
        assert in_order == [leader.name, successor.name]
        assert _overlaps(spans) == []
