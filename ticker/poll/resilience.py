"""Retries with jittered exponential backoff inside a budget, and a circuit that polls less often."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from ticker.errors import UpstreamError, UpstreamTimeoutError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Faults that can heal within seconds. A bad key, an API not applied for or a spent quota won't.
RETRYABLE_KINDS = frozenset({"timeout", "connection", "maintenance", "parse", "no_data"})


def is_retryable(err: UpstreamError) -> bool:
    """Whether another attempt in the same cycle may succeed."""
    if err.kind == "status":
        return err.status is None or err.status >= 500
    return err.kind in RETRYABLE_KINDS


@dataclass(frozen=True)
class RetryPolicy:
    """How often to try within one cycle, and how long the whole cycle may take."""

    attempts: int = 3
    base_s: float = 1.0
    cap_s: float = 8.0
    budget_s: float = 45.0

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng() * min(self.cap_s, self.base_s * 2.0**attempt)


NO_RETRY = RetryPolicy(attempts=1)

# The deadline of the poll cycle in progress (event-loop time), and what did not finish in it.
# Every upstream call of a cycle (primary with its retries, backfill, fallback, feeds) runs under
# it, so one hanging call cannot stretch the cycle past its budget.
_DEADLINE: ContextVar[float | None] = ContextVar("ticker_cycle_deadline", default=None)
_UNFINISHED: ContextVar[list[str] | None] = ContextVar("ticker_cycle_unfinished", default=None)


@contextlib.contextmanager
def cycle_budget(budget_s: float | None) -> Iterator[list[str]]:
    """Run the block as one cycle with ``budget_s`` to spend; yields the list of unfinished calls."""
    unfinished: list[str] = []
    deadline = None if budget_s is None else asyncio.get_running_loop().time() + budget_s
    deadline_token = _DEADLINE.set(deadline)
    unfinished_token = _UNFINISHED.set(unfinished)
    try:
        yield unfinished
    finally:
        _DEADLINE.reset(deadline_token)
        _UNFINISHED.reset(unfinished_token)


def cycle_remaining() -> float | None:
    """Seconds left in the current cycle's budget, or None outside a cycle with a budget."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())


async def within_cycle(call: Awaitable[T], what: str, *, grace_s: float = 0.0) -> T:
    """Await ``call`` until the cycle's deadline (plus ``grace_s``); past it, note ``what`` as
    unfinished and raise UpstreamTimeoutError (the caller keeps what it already has)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return await call
    try:
        async with asyncio.timeout_at(deadline + grace_s):
            return await call
    except TimeoutError:
        unfinished = _UNFINISHED.get()
        if unfinished is not None and what not in unfinished:
            unfinished.append(what)
        msg = f"{what}: not finished within the cycle budget"
        raise UpstreamTimeoutError(msg) from None


async def retrying(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    monotonic: Callable[[], float] = time.monotonic,
) -> T:
    """Await ``call`` until it succeeds, fails for good, or attempts or budget run out."""
    started = monotonic()
    attempt = 0
    while True:
        remaining = policy.budget_s - (monotonic() - started)
        left_in_cycle = cycle_remaining()
        if left_in_cycle is not None:
            remaining = min(remaining, left_in_cycle)
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                return await call()
        except TimeoutError:
            msg = f"{what}: no complete answer within the cycle budget of {policy.budget_s:g}s"
            raise UpstreamTimeoutError(msg) from None
        except UpstreamError as err:
            attempt += 1
            if attempt >= policy.attempts or not is_retryable(err):
                raise
            pause = policy.delay(attempt - 1, rng)
            if monotonic() - started + pause >= policy.budget_s:
                raise
            logger.debug("%s: attempt %d failed (%s), retrying in %.2fs", what, attempt, err.kind, pause)
            await sleep(pause)


class Circuit:
    """After repeated failed cycles, skip cycles for a growing, jittered pause; one success closes it."""

    def __init__(
        self,
        *,
        threshold: int = 3,
        base_s: float = 300.0,
        cap_s: float = 3600.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.threshold = threshold
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng
        self.failures = 0
        self.open_until: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.open_until is not None

    def allow(self, now: datetime) -> bool:
        """True when a cycle should call the upstream now (closed, or the pause is over)."""
        return self.open_until is None or now >= self.open_until

    def success(self) -> None:
        self.failures = 0
        self.open_until = None

    def failure(self, now: datetime) -> bool:
        """Count a failed cycle; return True when this failure opened the circuit."""
        self.failures += 1
        if self.failures < self.threshold:
            return False
        was_open = self.open_until is not None
        # The first pause spans two intervals, so at least one scheduled cycle is skipped.
        steps = self.failures - self.threshold + 1
        pause = min(self.cap_s, self.base_s * 2.0**steps) * (0.9 + 0.2 * self._rng())
        self.open_until = now + timedelta(seconds=pause)
        return not was_open
