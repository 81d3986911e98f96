"""Poll only while this process holds the poll lease.

Every poller process keeps its own APScheduler (job stores cannot be shared between processes);
the lease decides which one acts. On taking the lease, the next cycle is placed one interval after
the fleet's last recorded cycle (at once if that is overdue, or if Redis came back empty), so a
takeover neither skips nor doubles a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ticker.errors import StoreError
from ticker.poll.lease import PollLease
from ticker.poll.poller import Poller
from ticker.poll.scheduler import JOB_ID, build_scheduler
from ticker.store import Store
from ticker.tasks import stop_if_cancelled

logger = logging.getLogger(__name__)

RELEASE_TIMEOUT_S = 2.0


class ElectedPoller:
    """Drives one process's poller: lease upkeep, scheduling, and a clean stop."""

    def __init__(
        self,
        *,
        poller: Poller,
        lease: PollLease,
        store: Store,
        interval_s: float,
        jitter_s: float = 0.0,
        scheduler_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.poller = poller
        self.lease = lease
        self.store = store
        # APScheduler fires on real time, whatever clock the poller measures data age with.
        self.scheduler_clock = scheduler_clock
        self.interval_s = interval_s
        self.jitter_s = jitter_s
        self._scheduler: AsyncIOScheduler | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._cycle: asyncio.Task[object] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start following the lease and the schedule."""
        self._scheduler = build_scheduler(self._due, interval_s=self.interval_s, jitter_s=self.jitter_s)
        self._scheduler.start()
        self._lease_task = asyncio.create_task(self._follow_lease(), name="poll-lease")

    async def stop(self) -> None:
        """Stop polling (a cycle in progress is cancelled), and hand the lease back. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for task in (self._lease_task, self._cycle):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S):
                await self.lease.release()
        except TimeoutError:
            logger.warning("could not release the poll lease in time; it will expire")

    async def _due(self) -> None:
        """The scheduled job: start a cycle if this process leads and none is running."""
        if self._stopping or not self.lease.held:
            return
        if self._cycle is not None and not self._cycle.done():
            logger.warning("poll cycle still running at the next slot; skipping this one")
            return
        self._cycle = asyncio.create_task(self.poller.run_once(), name="poll-cycle")

    async def _follow_lease(self) -> None:
        while True:
            stop_if_cancelled()
            try:
                step = await self.lease.step()
                stop_if_cancelled()
                if step.acquired:
                    await self._took_lease()
                if self.lease.held:
                    # Redis answered: write what a cycle fetched while it was away (no-op if none).
                    await self.poller.flush_pending()
                delay = step.delay_s
            except Exception:
                logger.exception("poll lease upkeep failed; trying again")
                delay = self.lease.renew_s
            await asyncio.sleep(delay)

    async def _took_lease(self) -> None:
        """Place the next cycle one interval after the fleet's last recorded one, or now."""
        wait_s = 0.0
        try:
            last = await self.store.load_heartbeat()
        except StoreError:
            last = None
        if last is not None and isinstance(last.get("started_at"), int | float):
            # Measured on the poller's clock, applied to the scheduler's.
            since = self.poller.clock().timestamp() - float(last["started_at"])
            wait_s = min(self.interval_s, max(0.0, self.interval_s - since))
        due = self.scheduler_clock() + timedelta(seconds=wait_s)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.modify_job(JOB_ID, next_run_time=due)
        logger.info("polling from now on; next cycle in %.1fs", wait_s)
