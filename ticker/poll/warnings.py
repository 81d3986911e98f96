"""The weather-warnings feed on its own schedule: fetch -> store -> publish, while holding the lease.

It has its own circuit, its own source record in Redis (``ticker:source:<name>``) and its own
freshness (the time of the last successful answer), so a failing or unapplied warnings API never
touches the observations. The web side removes warnings once that answer is too old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ticker.errors import StoreError, UpstreamError
from ticker.freshness import Cycle
from ticker.metrics import Metrics
from ticker.models import Station
from ticker.poll.resilience import Circuit
from ticker.poll.scheduler import JOB_ID, build_scheduler
from ticker.poll.sources.kma_warnings import WarningsSource
from ticker.store import Store

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class WarningsPoller:
    """One warnings cycle at a time; never raises for upstream or Redis faults."""

    def __init__(
        self,
        *,
        stations: Sequence[Station],
        source: WarningsSource,
        store: Store,
        clock: Clock,
        max_age_s: float,
        epoch: Callable[[], int | None] = lambda: None,
        circuit: Circuit | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.stations = list(stations)
        self.source = source
        self.store = store
        self.clock = clock
        self.max_age_s = max_age_s
        self._epoch = epoch
        self.circuit = circuit
        self.metrics = metrics
        self._failing: str | None = None
        self.last_result: Cycle | None = None

    async def run_once(self) -> Cycle:
        now = self.clock()
        started = time.perf_counter()
        result = Cycle(started_at=now, source=self.source.name, epoch=self._epoch())
        if self.circuit is not None and not self.circuit.allow(now):
            result.outcome, result.error_kind = "circuit_open", self._failing
        else:
            await self._poll(now, result)
        result.duration_s = round(time.perf_counter() - started, 4)
        self.last_result = result
        if self.metrics is not None:
            self.metrics.observe_cycle(result)
        return result

    async def _poll(self, now: datetime, result: Cycle) -> None:
        try:
            warnings = await self.source.fetch(self.stations, now)
        except UpstreamError as err:
            result.outcome, result.error_kind, result.message = "error", err.kind, str(err)
            if self._failing != err.kind:
                logger.warning("warnings feed %s failing (%s): %s", self.source.name, err.kind, err)
            self._failing = err.kind
            if self.circuit is not None:
                self.circuit.failure(now)
            await self._record(now, err.kind, str(err))
            return
        if self._failing is not None:
            logger.info("warnings feed %s answers again", self.source.name)
        self._failing = None
        if self.circuit is not None:
            self.circuit.success()
        result.fetched = len(warnings)
        try:
            # Tell web processes of answers at least three times per max_age, so none of them
            # judges the feed older than it is by more than a third of the limit.
            written = await self.store.save_warnings(
                warnings, now, epoch=self._epoch(), announce_after_s=self.max_age_s / 3
            )
        except StoreError as err:
            result.outcome, result.error_kind, result.message = "store_error", "redis", str(err)
            return
        if written < 0:
            result.outcome, result.message = "fenced", "a newer poller holds the lease"
            return
        result.written = written
        await self._record(now, None, None)

    async def _record(self, now: datetime, kind: str | None, message: str | None) -> None:
        with contextlib.suppress(StoreError):
            await self.store.record_source(self.source.name, at=now, error_kind=kind, message=message)


class ScheduledWarnings:
    """Runs the warnings poller on its own interval while ``held()`` says this process leads."""

    def __init__(
        self,
        poller: WarningsPoller,
        *,
        held: Callable[[], bool],
        interval_s: float,
        jitter_s: float = 0.0,
        scheduler_clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.poller = poller
        self.held = held
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self.scheduler_clock = scheduler_clock
        self._scheduler: AsyncIOScheduler | None = None
        self._cycle: asyncio.Task[Cycle] | None = None

    async def start(self) -> None:
        self._scheduler = build_scheduler(self._due, interval_s=self.interval_s, jitter_s=self.jitter_s)
        self._scheduler.start()

    def lease_changed(self, held: bool) -> None:
        """On taking the lease, poll the feed at once rather than an interval later."""
        if held and self._scheduler is not None and self._scheduler.running:
            self._scheduler.modify_job(JOB_ID, next_run_time=self.scheduler_clock())

    async def _due(self) -> None:
        if not self.held() or (self._cycle is not None and not self._cycle.done()):
            return
        self._cycle = asyncio.create_task(self.poller.run_once(), name="warnings-cycle")

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._cycle is not None and not self._cycle.done():
            self._cycle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cycle
