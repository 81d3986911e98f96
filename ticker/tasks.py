"""Background-task helpers shared by the web and poll sides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

logger = logging.getLogger(__name__)


def stop_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop but a library swallowed the request.

    A cancellation can surface from inside a client as a timeout (an OSError) or not at all
    (redis-py #2551); a loop that carries on regardless would never let its owner stop it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(tasks: Sequence[asyncio.Task[None]], *, every_s: float = 0.1) -> None:
    """Cancel background tasks and wait until they have ended.

    A cancellation can be swallowed inside the Redis client (see ``store.UpdateFeed``), leaving
    a task running; so the cancel is repeated until every task is done.
    """
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            logger.warning("background task ended with %r", task.exception())
