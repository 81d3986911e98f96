"""The poll lease: one process in the fleet polls, the others stand by.

The lease is one Redis key taken with ``SET NX PX`` and renewed every third of its lifetime by
token-checked Lua. Each acquisition bumps a fencing epoch that every write carries, so a holder that
was paused past its lease (GC, VM freeze, partition) cannot overwrite newer data when it wakes.
Locally the lease counts as held only until a safety margin before it could have expired in Redis,
so two processes never both believe they hold it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from ticker.errors import StoreError
from ticker.store import Store

logger = logging.getLogger(__name__)

SAFETY = 0.1  # stop calling the lease ours this fraction of the TTL before Redis could expire it
RETRY_GRACE_S = 0.01  # try again just after another holder's lease would have expired
FAILING_RETRY_S = 1.0  # while Redis fails, retry at least this often


def holder_token() -> str:
    """A token naming this process for ops (host:pid) and unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class LeaseStep:
    """What one acquire/renew attempt found, and when to make the next one."""

    delay_s: float
    acquired: bool = False  # the lease became ours in this step (new epoch or regained)


class PollLease:
    """Acquire, renew and release the poll lease for this process."""

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float,
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.renew_s = ttl_s / 3
        self.token = holder or holder_token()
        self.clock = clock
        self.epoch: int | None = None  # fencing epoch of the latest acquisition, kept after loss
        self._on_change = on_change
        self._valid_until: float | None = None
        self._failing = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.ttl_s * 1000))

    @property
    def held(self) -> bool:
        """True while this process may act as the poller."""
        return self._valid_until is not None and self.clock() < self._valid_until

    def status(self) -> dict[str, object]:
        """This process's view of the lease, for readiness and status pages."""
        return {"held": self.held, "epoch": self.epoch, "token": self.token}

    async def step(self) -> LeaseStep:
        """Make one acquire or renew attempt; never raises for Redis faults."""
        sent_at = self.clock()
        self._expire_if_due(sent_at)
        try:
            if self._valid_until is not None:
                if await self.store.extend_lease(self.token, self.ttl_ms):
                    self._set(sent_at + self.ttl_s * (1 - SAFETY))
                    self._recovered()
                    return LeaseStep(self.renew_s)
                self._set(None, "taken over, or lost by Redis")
            epoch, pttl_ms = await self.store.acquire_lease(self.token, self.ttl_ms)
        except StoreError as err:
            if not self._failing:
                logger.warning("cannot reach Redis for the poll lease: %s", err)
                self._failing = True
            return LeaseStep(min(self.renew_s, FAILING_RETRY_S))
        self._recovered()
        if epoch:
            self.epoch = epoch
            self._set(sent_at + self.ttl_s * (1 - SAFETY))
            return LeaseStep(self.renew_s, acquired=True)
        # Someone else holds it: look again as soon as it could have expired.
        wait = self.renew_s if pttl_ms <= 0 else min(self.renew_s, pttl_ms / 1000 + RETRY_GRACE_S)
        return LeaseStep(wait)

    async def release(self) -> bool:
        """Give the lease up (graceful shutdown) so another process takes over at once."""
        if self._valid_until is None:
            return False
        self._set(None, "released")
        try:
            return await self.store.release_lease(self.token)
        except StoreError as err:
            logger.warning("could not release the poll lease (%s); it expires within %ss", err, self.ttl_s)
            return False

    def _expire_if_due(self, now: float) -> None:
        if self._valid_until is not None and now >= self._valid_until:
            self._set(None, "not renewed in time")

    def _recovered(self) -> None:
        if self._failing:
            logger.info("Redis answers again for the poll lease")
            self._failing = False

    def _set(self, valid_until: float | None, reason: str = "") -> None:
        """Move the local validity; log and report only the transitions of leadership."""
        before = self._valid_until is not None
        self._valid_until = valid_until
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if valid_until is not None:
            # A timer, not the next step, drops the lease on time even while a Redis call hangs.
            delay = max(0.0, valid_until - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)
        after = valid_until is not None
        if before == after:
            return
        if after:
            logger.info("leader: yes (poll lease epoch %s, ttl %ss)", self.epoch, self.ttl_s)
        elif reason == "released":
            logger.info("leader: no (%s)", reason)
        else:
            logger.warning("leader: no (%s)", reason)
        if self._on_change is not None:
            self._on_change(after)

    def _on_timer(self) -> None:
        self._timer = None
        now = self.clock()
        if self._valid_until is not None and now < self._valid_until:
            # The loop may fire a timer a hair early; wait out the rest.
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._valid_until - now, self._on_timer)
            return
        self._expire_if_due(now)
