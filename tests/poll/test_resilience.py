"""Retries inside a budget, the circuit that polls less often, and logging only on transitions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from tests.conftest import FixedClock
from ticker.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamMaintenanceError,
    UpstreamStatusError,
    UpstreamTimeoutError,
)
from ticker.models import Observation, Station
from ticker.poll.poller import Poller
from ticker.poll.resilience import Circuit, RetryPolicy, is_retryable, retrying
from ticker.poll.sources.sim import SimSource
from ticker.store import Store


class ScriptedSource:
    """A source whose answers a test scripts: an error to raise, or None for simulated data."""

    name = "scripted"

    def __init__(self, script: Sequence[UpstreamError | None]) -> None:
        self.script = list(script)
        self.calls = 0
        self._sim = SimSource()

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if step is not None:
            raise step
        return await self._sim.fetch(stations, now)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (UpstreamTimeoutError("t"), True),
        (UpstreamMaintenanceError("m"), True),
        (UpstreamStatusError("s", status=503), True),
        (UpstreamStatusError("s", status=404), False),
        (UpstreamAuthError("a", status=401), False),
    ],
)
def test_which_faults_are_retried(error: UpstreamError, retry: bool):
    assert is_retryable(error) is retry


def test_backoff_is_jittered_exponential_and_capped():
    policy = RetryPolicy(base_s=1.0, cap_s=5.0)
    assert [policy.delay(n, rng=lambda: 1.0) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(3, rng=lambda: 0.25) == 1.25
    assert policy.delay(3, rng=lambda: 0.0) == 0.0


async def test_retries_stop_when_the_next_pause_would_overrun_the_budget():
    now = [0.0]
    calls = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def call() -> None:
        calls.append(now[0])
        now[0] += 4.0  # each attempt takes 4 s
        raise UpstreamTimeoutError("slow")

    policy = RetryPolicy(attempts=10, base_s=2.0, cap_s=2.0, budget_s=12.0)
    with pytest.raises(UpstreamTimeoutError):
        await retrying(call, policy, what="x", sleep=sleep, rng=lambda: 1.0, monotonic=lambda: now[0])
    assert calls == [0.0, 6.0]  # a third attempt would start at 12 s: past the budget


def test_the_circuit_opens_after_repeated_failures_and_backs_off(clock: FixedClock):
    circuit = Circuit(threshold=3, base_s=300, cap_s=3600, rng=lambda: 0.5)
    assert [circuit.failure(clock()) for _ in range(2)] == [False, False]
    assert circuit.allow(clock())
    assert circuit.failure(clock()) is True  # the third failure opens it: a 600 s pause
    assert not circuit.allow(clock.advance(seconds=599))
    assert circuit.allow(clock.advance(seconds=1))
    assert circuit.failure(clock()) is False  # still failing: already open, longer pause
    assert circuit.open_until == clock() + timedelta(seconds=1200)
    for _ in range(10):
        circuit.failure(clock())
    assert (circuit.open_until - clock()).total_seconds() == 3600  # capped
    circuit.success()
    assert circuit.allow(clock()) and not circuit.is_open and circuit.failures == 0


async def test_a_failing_upstream_is_polled_less_often_and_logged_once(
    stations, store: Store, clock: FixedClock, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="ticker")
    failing = UpstreamMaintenanceError("HTML page instead of data (HTTP 503)", status=503)
    source = ScriptedSource([None] + [failing] * 8 + [None])
    circuit = Circuit(threshold=3, base_s=300, cap_s=3600, rng=lambda: 0.5)
    poller = Poller(
        stations=stations, source=source, store=store, clock=clock, interval_s=300, circuit=circuit
    )

    assert (await poller.run_once()).outcome == "ok"
    before = await store.load_snapshot()
    outcomes = []
    for _ in range(12):  # one hour of 5-minute cycles
        clock.advance(minutes=5)
        outcomes.append((await poller.run_once()).outcome)
    # 3 failures open the circuit (600 s), one trial fails (1200 s), the next trial fails (2400 s)
    assert outcomes == [
        "error", "error", "error", "circuit_open", "error",
        "circuit_open", "circuit_open", "circuit_open", "error",
        "circuit_open", "circuit_open", "circuit_open",
    ]  # fmt: skip
    assert source.calls == 1 + 5
    after = await store.load_snapshot()
    assert after.version == before.version and after.observations == before.observations
    state = await store.load_source("scripted")
    assert state["errors:maintenance"] == "5" and state["last_error_kind"] == "maintenance"

    clock.advance(minutes=25)  # past the pause: it answers again
    source.script = [None]
    assert (await poller.run_once()).outcome == "ok"
    assert not circuit.is_open
    messages = [r.getMessage() for r in caplog.records if r.name == "ticker.poll.poller"]
    assert messages == [
        "source scripted failing (maintenance): HTML page instead of data (HTTP 503)",
        "source scripted recovered after maintenance",
    ]
