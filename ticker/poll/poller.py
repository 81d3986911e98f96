"""One poll cycle: fetch -> QC -> store -> publish, with failure-state transitions."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from ticker.errors import StoreError, UpstreamError
from ticker.freshness import Cycle, TransitionLog, assess
from ticker.metrics import Metrics
from ticker.models import KST, Observation, Station
from ticker.poll.qc import screen
from ticker.poll.resilience import Circuit, cycle_budget, within_cycle
from ticker.poll.sources import Source
from ticker.poll.sources.words import drain_requests
from ticker.report import max_silence_s
from ticker.store import Store

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
BACKSTOP_GRACE_S = 1.0  # past the budget, a source that did not stop by itself is cut off


class Poller:
    """Polls one source for the configured stations and writes what passes QC."""

    def __init__(
        self,
        *,
        stations: Sequence[Station],
        source: Source,
        store: Store,
        clock: Clock,
        interval_s: float,
        epoch: Callable[[], int | None] | None = None,
        on_cycle: Callable[[Cycle], Awaitable[None] | None] | None = None,
        circuit: Circuit | None = None,
        budget_s: float | None = None,
    ) -> None:
        self.stations = list(stations)
        self.source = source
        self.store = store
        self.clock = clock
        self.interval_s = interval_s
        self._epoch = epoch or (lambda: None)
        self._on_cycle = on_cycle
        self.circuit = circuit
        self.budget_s = budget_s  # every upstream call of a cycle together (TICKER_KMA_CYCLE_BUDGET_S)
        self._failing_kind: str | None = None
        self._store_failing = False
        # Observations that passed QC but could not be written yet (Redis away); newest per station.
        self._pending: dict[int, Observation] = {}
        self.last_result: Cycle | None = None

    async def run_once(self) -> Cycle:
        """Run one complete cycle and return what happened; never raises for upstream or Redis faults."""
        now = self.clock()
        started = time.perf_counter()
        result = Cycle(started_at=now, source=self.source.name, epoch=self._epoch())
        fetched_ids: list[int] = []
        if self.circuit is not None and not self.circuit.allow(now):
            # Repeated failures: leave the upstream alone until the pause is over.
            until = self.circuit.open_until
            result.outcome, result.error_kind = "circuit_open", self._failing_kind
            if until is not None:
                result.message = f"upstream failing; next attempt after {until.astimezone(KST):%H:%M:%S} KST"
            rows = None
        else:
            with cycle_budget(self.budget_s) as unfinished:
                rows = await self._fetch(now, result)
            if unfinished:
                result.unfinished = list(unfinished)
                note = "not finished within the cycle budget: " + ", ".join(unfinished)
                result.message = f"{result.message}; {note}" if result.message else note
        await self._record_feeds(result)
        result.requests = dict(drain_requests(self.source))
        if rows is not None:
            result.fetched = len(rows)
            qc = screen(rows, now, (s.id for s in self.stations))
            for rejection in qc.rejected:
                result.rejected[rejection.reason] = result.rejected.get(rejection.reason, 0) + 1
            result.missing = [s.id for s in self.stations if s.id not in qc.accepted]
            if result.missing:
                result.outcome = "partial"
            for sid, obs in qc.accepted.items():
                pending = self._pending.get(sid)
                if pending is None or obs.observed_at >= pending.observed_at:
                    self._pending[sid] = obs
            if not getattr(self.source, "from_cache", False):  # rows handed on were not fetched now
                fetched_ids = list(qc.accepted)
                await self._safe_record_source(now, None, None)
        write_error = await self._flush(result)
        if fetched_ids and result.outcome != "fenced":  # a fenced poller leaves no trace
            with contextlib.suppress(StoreError):  # the write above reported the outage once
                await self.store.record_fetch(fetched_ids, now)
        result.duration_s = round(time.perf_counter() - started, 4)
        try:
            await self.store.record_cycle(result.record(), heartbeat_ttl_s=max_silence_s(self.interval_s))
        except StoreError as err:
            write_error = write_error or err
        # Judged per cycle: a script that had nothing to write succeeds even when Redis refuses writes.
        self._store_state(write_error)
        self.last_result = result
        if self._on_cycle is not None:
            maybe = self._on_cycle(result)
            if maybe is not None:
                await maybe
        return result

    async def flush_pending(self) -> int:
        """Write observations kept while Redis was away, without polling; return how many."""
        result = Cycle(started_at=self.clock(), source=self.source.name)
        await self._flush(result)
        return result.written

    async def _fetch(self, now: datetime, result: Cycle) -> list[Observation] | None:
        """Rows from the source, or None after recording why there are none."""
        try:
            # Calls inside the source stop at the deadline and keep what they have; this is the
            # backstop for one that does not.
            rows = await within_cycle(
                self.source.fetch(self.stations, now), self.source.name, grace_s=BACKSTOP_GRACE_S
            )
        except UpstreamError as err:
            result.outcome, result.error_kind, result.message = "error", err.kind, str(err)
            self._upstream_failed(err)
            if self.circuit is not None and self.circuit.failure(now):
                logger.debug("source %s: polling less often until it answers", self.source.name)
            await self._safe_record_source(now, err.kind, str(err))
            return None
        self._upstream_recovered()
        if self.circuit is not None:
            self.circuit.success()
        return rows

    async def _flush(self, result: Cycle) -> StoreError | None:
        if not self._pending:
            return None
        batch = dict(self._pending)
        try:
            written = await self.store.save_observations(
                batch.values(), epoch=self._epoch(), now=self.clock()
            )
        except StoreError as err:
            self._store_state(err)
            if result.outcome != "error":
                result.outcome, result.error_kind, result.message = "store_error", "redis", str(err)
            return err
        for sid, obs in batch.items():
            # Keep anything newer that a concurrent cycle added while this write was in flight.
            if self._pending.get(sid) is obs:
                del self._pending[sid]
        if written < 0:
            result.outcome, result.message = "fenced", "a newer poller holds the lease"
            return None
        result.written = written
        return None

    def _store_state(self, err: StoreError | None) -> None:
        """Log once when writes to Redis start failing (and why), once when they work again."""
        if err is not None and not self._store_failing:
            logger.warning("cannot write to Redis, keeping observations for later: %s", err)
            self._store_failing = True
        elif err is None and self._store_failing:
            logger.info("writing to Redis again")
            self._store_failing = False

    async def _record_feeds(self, result: Cycle) -> None:
        """Each weather-word feed's own success or failure, as a source of its own."""
        drain = getattr(self.source, "drain_feed_states", None)
        if not callable(drain):
            return
        for state in drain():
            result.feeds[state.name] = state.error_kind
            with contextlib.suppress(StoreError):
                await self.store.record_source(
                    state.name, at=state.at, error_kind=state.error_kind, message=state.message
                )

    async def _safe_record_source(self, now: datetime, kind: str | None, message: str | None) -> None:
        with contextlib.suppress(StoreError):
            await self.store.record_source(self.source.name, at=now, error_kind=kind, message=message)

    def _upstream_failed(self, err: UpstreamError) -> None:
        if self._failing_kind is None:
            logger.warning("source %s failing (%s): %s", self.source.name, err.kind, err)
        elif self._failing_kind != err.kind:
            logger.warning("source %s now failing with %s: %s", self.source.name, err.kind, err)
        self._failing_kind = err.kind

    def _upstream_recovered(self) -> None:
        if self._failing_kind is not None:
            logger.info("source %s recovered after %s", self.source.name, self._failing_kind)
        self._failing_kind = None


def cycle_hook(
    metrics: Metrics, store: Store, stations: Sequence[Station], clock: Clock
) -> Callable[[Cycle], Awaitable[None]]:
    """A poller's ``on_cycle``: count the cycle, log station state transitions."""
    transitions = TransitionLog()

    async def on_cycle(result: Cycle) -> None:
        metrics.observe_cycle(result)
        try:
            snap = await store.load_snapshot()
        except StoreError:
            return  # the poller itself reports Redis outages, once
        transitions.update(assess(stations, snap.observations, snap.fetched_at, clock()))

    return on_cycle
