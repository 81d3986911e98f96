"""APScheduler 3.x wiring only: when to run a poll cycle. The poll lease decides who acts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ticker.models import KST

JOB_ID = "poll"


def build_scheduler(
    job: Callable[[], Awaitable[Any]],
    *,
    interval_s: float,
    jitter_s: float,
    first_run: datetime | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
) -> AsyncIOScheduler:
    """A scheduler that runs ``job`` every interval, never overlapping, first at ``first_run``."""
    scheduler = AsyncIOScheduler(event_loop=loop or asyncio.get_running_loop(), timezone=KST)
    scheduler.add_job(
        job,
        IntervalTrigger(seconds=interval_s, jitter=jitter_s or None, timezone=KST),
        id=JOB_ID,
        coalesce=True,  # after a pause, run once rather than once per missed slot
        max_instances=1,  # a slow cycle is never overlapped by the next
        misfire_grace_time=max(1, int(interval_s / 2)),
        next_run_time=first_run or datetime.now(KST),
    )
    return scheduler
