"""The in-process snapshot of a web process: the current data as ready-to-send bytes.

Handlers only look up bytes here. The snapshot is refreshed when Redis announces a new version
(pub/sub) and by a periodic version check as a fallback; a clock tick re-renders so that
staleness and the midnight date change show without new data. If Redis goes away, the last
snapshot keeps being served and ages visibly.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError

from ticker.errors import StoreError
from ticker.models import Station
from ticker.render import View, build_view
from ticker.store import EMPTY_SNAPSHOT, Snapshot, Store

logger = logging.getLogger(__name__)

GZIP_MIN_BYTES = 512
MAX_VARIANTS = 512


@dataclass(frozen=True)
class Rendered:
    """One variant, ready to send."""

    body: bytes
    gzip: bytes | None
    etag: str
    content_type: str


def make_rendered(body: bytes, content_type: str) -> Rendered:
    """Bytes plus a strong ETag over them and a gzip copy when it pays off."""
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    if packed is not None and len(packed) >= len(body):
        packed = None
    return Rendered(body=body, gzip=packed, etag=etag, content_type=content_type)


Renderer = Callable[[View], tuple[bytes, str]]


class LiveSnapshot:
    """The current snapshot and its rendered variants, for one web process."""

    def __init__(
        self,
        stations: Sequence[Station],
        *,
        clock: Callable[[], datetime],
        hard_max_age_s: int,
    ) -> None:
        self.stations = list(stations)
        self.clock = clock
        self.hard_max_age_s = hard_max_age_s
        self.snapshot: Snapshot = EMPTY_SNAPSHOT
        self.loaded = False  # True once a snapshot came from Redis
        self.loaded_at: datetime | None = None
        self._view: View | None = None
        self._variants: OrderedDict[Hashable, Rendered] = OrderedDict()

    @property
    def version(self) -> int:
        return self.snapshot.version

    def replace(self, snapshot: Snapshot) -> None:
        """Adopt a newer snapshot and drop every rendered variant."""
        self.snapshot = snapshot
        self.loaded = True
        self.loaded_at = self.clock()
        self.invalidate()

    def invalidate(self) -> None:
        """Forget rendered bytes; the next request renders with the current clock."""
        self._view = None
        self._variants.clear()

    def view(self) -> View:
        if self._view is None:
            self._view = build_view(
                self.stations,
                self.snapshot.observations,
                self.clock(),
                version=self.snapshot.version,
                hard_max_age_s=self.hard_max_age_s,
            )
        return self._view

    def get(self, key: Hashable, renderer: Renderer) -> Rendered:
        """The rendered variant for ``key``, rendering it on first use after a change."""
        hit = self._variants.get(key)
        if hit is not None:
            return hit
        body, content_type = renderer(self.view())
        rendered = make_rendered(body, content_type)
        self._variants[key] = rendered
        if len(self._variants) > MAX_VARIANTS:
            self._variants.popitem(last=False)
        return rendered

    async def refresh(self, store: Store, *, force: bool = False) -> bool:
        """Load the snapshot if Redis has a different version (or ``force``); True if loaded."""
        version = await store.load_version()
        if not force and self.loaded and version == self.snapshot.version:
            return False
        self.replace(keep_newer(self.snapshot, await store.load_snapshot()))
        return True


def keep_newer(current: Snapshot, loaded: Snapshot) -> Snapshot:
    """``loaded``, except that no station goes back to older data or vanishes.

    A Redis that restarted empty, or from an older dump, must not blank or age the widget; the
    poller repopulates it, and the newer data then wins station by station.
    """
    observations = dict(loaded.observations)
    fetched_at = dict(loaded.fetched_at)
    kept = False
    for sid, mine in current.observations.items():
        theirs = observations.get(sid)
        if theirs is None or theirs.observed_at < mine.observed_at:
            kept = True
            observations[sid] = mine
            if sid in current.fetched_at:
                fetched_at[sid] = current.fetched_at[sid]
    if not kept:
        return loaded
    logger.info("Redis has older or fewer observations than this process; keeping the newer ones")
    return Snapshot(version=loaded.version, observations=observations, fetched_at=fetched_at)


async def follow_updates(live: LiveSnapshot, store: Store, *, check_interval_s: float) -> None:
    """Keep ``live`` current: pub/sub announcements, with a periodic version check as fallback."""
    failing = False
    while True:
        pubsub = store.redis.pubsub()
        try:
            await pubsub.subscribe(store.keys.updates)
            await live.refresh(store)
            if failing:
                logger.info("snapshot updates from Redis resumed (version %s)", live.version)
                failing = False
            while True:
                stop_if_cancelled()
                # Any message, or none within the interval, leads to a version check.
                message = await pubsub.get_message(timeout=check_interval_s)
                # redis-py reconnects and resubscribes by itself; the confirmation tells us. The
                # Redis may have restarted and count versions from 0 again, so the same number no
                # longer means the same data: load it whatever the number.
                resubscribed = message is not None and message.get("type") == "subscribe"
                await live.refresh(store, force=resubscribed)
        except (RedisError, StoreError, OSError) as err:
            stop_if_cancelled()
            if not failing:
                logger.warning(
                    "cannot follow snapshot updates (%s); serving version %s",
                    type(err).__name__,
                    live.version,
                )
                failing = True
        finally:
            try:
                await pubsub.aclose()
            except (RedisError, OSError):
                pass
        await asyncio.sleep(check_interval_s)


def stop_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop but a library swallowed the request.

    A cancellation can surface from inside a client as a timeout (an OSError) or not at all
    (redis-py #2551); a loop that carries on regardless would never let its owner stop it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def tick(live: LiveSnapshot, *, every_s: float) -> None:
    """Re-render on a clock tick so ageing and the date line show without new data."""
    while True:
        await asyncio.sleep(every_s)
        live.invalidate()
