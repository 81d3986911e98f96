"""The in-process snapshot of a web process: the current data as ready-to-send bytes.

Handlers only look up bytes here. The snapshot is refreshed when Redis announces a new version
(pub/sub) and by a periodic version check as a fallback; a clock tick re-renders so that
staleness and the midnight date change show without new data. If Redis goes away, the last
snapshot keeps being served and ages visibly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from datetime import datetime

from aiohttp import web
from pydantic import ValidationError

from ticker.errors import StoreError
from ticker.models import MAX_CLOCK_SKEW_S, Station
from ticker.store import EMPTY_SNAPSHOT, Snapshot, Store
from ticker.tasks import cancel_and_wait, stop_if_cancelled
from ticker.web import keys
from ticker.web.answer import Rendered, make_rendered
from ticker.web.view import View, build_view

logger = logging.getLogger(__name__)

MAX_VARIANTS = 256  # rendered variants kept per process; a flood of distinct URLs evicts, never grows
MAX_ALIASES = 1024  # raw request paths remembered as shortcuts to a variant
RENDERS_PER_YIELD = 1  # a re-render pass gives the loop back this often, so requests keep flowing

DEFAULT_RENDERS_PER_S = 20.0  # renders of variants not kept, per process (TICKER_RENDERS_PER_S)

# A renderer turns a view into (body, content type, headers other than ETag/Content-Type).
Renderer = Callable[[View], tuple[bytes, str, Mapping[str, str]]]


class RenderRefused(Exception):
    """A variant that is not kept would need a render, and the render budget is spent."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("render budget spent")
        self.retry_after_s = retry_after_s


class RenderBudget:
    """A token bucket: at most ``rate`` renders a second on average, and a fifth of a second's
    worth (at least ``burst``) at once, so renders never hold the loop for long in one go."""

    def __init__(
        self, rate: float, *, burst: float = 4.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = max(burst, rate / 5)
        self._tokens = self.capacity
        self._monotonic = monotonic
        self._at = monotonic()
        self.refused = 0

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def available(self) -> bool:
        """Whether a render could happen now (nothing is taken)."""
        self._refill()
        return self._tokens >= 1.0

    def take(self) -> bool:
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.refused += 1
        return False

    def retry_after_s(self) -> int:
        """Whole seconds until a token is there again (at least 1)."""
        missing = max(0.0, 1.0 - self._tokens)
        return max(1, int(missing / self.rate + 0.999)) if self.rate > 0 else 60


class LiveSnapshot:
    """The current snapshot and its rendered variants, for one web process."""

    def __init__(
        self,
        stations: Sequence[Station],
        *,
        clock: Callable[[], datetime],
        hard_max_age_s: int,
        warnings_max_age_s: float = 1800.0,
        max_variants: int = MAX_VARIANTS,
        max_aliases: int = MAX_ALIASES,
        renders_per_s: float = DEFAULT_RENDERS_PER_S,
    ) -> None:
        self.stations = list(stations)
        self.clock = clock
        self.hard_max_age_s = hard_max_age_s
        self.warnings_max_age_s = warnings_max_age_s
        self.max_variants = max_variants
        self.max_aliases = max_aliases
        self.snapshot: Snapshot = EMPTY_SNAPSHOT
        self.loaded = False  # True once a snapshot came from Redis
        self.loaded_at: datetime | None = None
        self.renders = 0  # how many times any variant was rendered (for tests and ops)
        self._view: View | None = None
        self._variants: OrderedDict[Hashable, tuple[Renderer, Rendered]] = OrderedDict()
        self._aliases: OrderedDict[str, Hashable] = OrderedDict()
        self._pass = 0
        self.budget = RenderBudget(renders_per_s)
        self._pinned: set[Hashable] = set()  # registered at start-up: always kept and re-rendered
        self._served: set[Hashable] = set()  # variants answered since the last re-render pass
        self._settled = asyncio.Event()  # set while no re-render pass is under way
        self._settled.set()

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def variant_count(self) -> int:
        return len(self._variants)

    @property
    def alias_count(self) -> int:
        return len(self._aliases)

    def replace(self, snapshot: Snapshot) -> None:
        """Adopt a newer snapshot and drop every rendered variant (they re-render on use)."""
        self._adopt(snapshot)
        self.invalidate()

    def _adopt(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.loaded = True
        self.loaded_at = self.clock()

    def invalidate(self) -> None:
        """Forget rendered bytes; the next request renders with the current clock."""
        self._view = None
        self._variants.clear()
        self._aliases.clear()

    def view(self) -> View:
        if self._view is None:
            self._view = self._build_view()
        return self._view

    def _build_view(self) -> View:
        return build_view(
            self.stations,
            self.snapshot.observations,
            self.clock(),
            version=self.snapshot.version,
            hard_max_age_s=self.hard_max_age_s,
            warnings=self.snapshot.warnings,
            warnings_ok_at=self.snapshot.warnings_ok_at,
            warnings_max_age_s=self.warnings_max_age_s,
        )

    def is_kept(self, key: Hashable) -> bool:
        return key in self._variants

    def lookup(self, alias: str) -> Rendered | None:
        """The hot path: the variant a raw request path was last answered with, if still kept."""
        key = self._aliases.get(alias)
        if key is None:
            return None
        entry = self._variants.get(key)
        if entry is None:
            return None
        self._served.add(key)
        return entry[1]

    def get(
        self, key: Hashable, renderer: Renderer, *, alias: str | None = None, pin: bool = False
    ) -> Rendered:
        """The variant for ``key``, rendered on first use; remember ``alias`` as a shortcut.

        A render of a variant not kept takes a token from the render budget; with none left,
        RenderRefused (the caller answers 429). ``pin`` registers a variant that is always kept.
        """
        entry = self._variants.get(key)
        if entry is not None:
            self._served.add(key)  # asked for again: worth keeping current
        else:
            if not pin and key not in self._pinned and not self.budget.take():
                raise RenderRefused(self.budget.retry_after_s())
            entry = (renderer, self._render(renderer, self.view(), None))
            self._variants[key] = entry
            if pin:
                self._pinned.add(key)
            while len(self._variants) > self.max_variants:
                oldest = next((k for k in self._variants if k not in self._pinned), None)
                if oldest is None:
                    break
                del self._variants[oldest]
        if alias is not None and alias not in self._aliases:
            self._aliases[alias] = key
            while len(self._aliases) > self.max_aliases:
                self._aliases.popitem(last=False)
        return entry[1]

    def _render(self, renderer: Renderer, view: View, old: Rendered | None) -> Rendered:
        body, content_type, headers = renderer(view)
        self.renders += 1
        if old is not None and old.body == body and old.content_type == content_type:
            return old  # same bytes, same ETag: clients' cached copies stay valid
        return make_rendered(body, content_type, headers)

    async def rerender(self) -> None:
        """Re-render the variants asked for again since the last pass, with the clock.

        Old bytes are served until each is done. A variant nobody asked for again since it was
        rendered or last re-rendered is dropped (it renders on its next request), so a flood of
        one-off URLs costs nothing later; the pinned variants are always kept.
        """
        self._pass += 1
        this_pass = self._pass
        view = self._build_view()
        self._view = view
        self._settled.clear()
        try:
            await self._rerender_pass(this_pass, view)
        finally:
            if this_pass == self._pass:
                self._settled.set()

    async def settled(self) -> None:
        """Wait until the re-render pass under way, if any, has finished."""
        await self._settled.wait()

    async def _rerender_pass(self, this_pass: int, view: View) -> None:
        served, self._served = self._served, set()
        for done, key in enumerate(list(self._variants), start=1):
            entry = self._variants.get(key)
            if entry is None:
                continue
            if key not in self._pinned and key not in served:
                self._variants.pop(key, None)
                continue
            renderer, old = entry
            try:
                fresh = self._render(renderer, view, old)
            except Exception:
                logger.exception("cannot re-render a variant; dropping it")
                self._variants.pop(key, None)
                continue
            if this_pass != self._pass:
                return  # a newer pass (new data or a tick) took over
            if key in self._variants:
                self._variants[key] = (renderer, fresh)
            if done % RENDERS_PER_YIELD == 0:
                await asyncio.sleep(0)

    async def refresh(self, store: Store, *, force: bool = False) -> bool:
        """Load the snapshot if Redis has a different version (or ``force``); True if loaded.

        Either way, on return every kept variant shows the snapshot held: a pass that another
        caller started for this version is waited for.
        """
        version = await store.load_version()
        if not force and self.loaded and version == self.snapshot.version:
            await self.settled()
            return False
        self._adopt(keep_newer(self.snapshot, await store.load_snapshot(), now=self.clock()))
        await self.rerender()
        return True


def keep_newer(current: Snapshot, loaded: Snapshot, *, now: datetime | None = None) -> Snapshot:
    """``loaded``, except that no station goes back to older data or vanishes.

    A Redis that restarted empty, or from an older dump, must not blank or age the widget; the
    poller repopulates it, and the newer data then wins station by station. The same holds for
    the warnings: the list from the newer feed answer wins. A row of ours stamped after ``now``
    (plus the allowed skew) came from the future and is never kept.
    """
    observations = dict(loaded.observations)
    fetched_at = dict(loaded.fetched_at)
    kept = False
    for sid, mine in current.observations.items():
        if now is not None and (mine.observed_at - now).total_seconds() > MAX_CLOCK_SKEW_S:
            continue
        theirs = observations.get(sid)
        if theirs is None or theirs.observed_at < mine.observed_at:
            kept = True
            observations[sid] = mine
            if sid in current.fetched_at:
                fetched_at[sid] = current.fetched_at[sid]
    warnings, warnings_ok_at = loaded.warnings, loaded.warnings_ok_at
    if current.warnings_ok_at is not None and (warnings_ok_at or 0) < current.warnings_ok_at:
        kept = True
        warnings, warnings_ok_at = current.warnings, current.warnings_ok_at
    if not kept:
        return loaded
    logger.info("Redis has older or fewer observations than this process; keeping the newer ones")
    return Snapshot(
        version=loaded.version,
        observations=observations,
        fetched_at=fetched_at,
        warnings=warnings,
        warnings_ok_at=warnings_ok_at,
    )


async def follow_updates(live: LiveSnapshot, store: Store, *, check_interval_s: float) -> None:
    """Keep ``live`` current: pub/sub announcements, with a periodic version check as fallback."""
    failing = False
    while True:
        try:
            async with store.updates() as feed:
                subscribed = False
                await live.refresh(store)
                if failing:
                    logger.info("snapshot updates from Redis resumed (version %s)", live.version)
                    failing = False
                while True:
                    stop_if_cancelled()
                    # Any message, or none within the interval, leads to a version check.
                    confirmed = await feed.next(check_interval_s)
                    # The Redis may have restarted and count versions from 0 again, so after a
                    # resubscription the same number no longer means the same data: load it.
                    if confirmed and not subscribed:
                        subscribed = True  # our own subscription: loaded just above
                        continue
                    await live.refresh(store, force=confirmed)
        except (StoreError, OSError, ValidationError, ValueError) as err:
            stop_if_cancelled()
            # Bad stored data never replaces what is served: keep the last good snapshot.
            if not failing:
                logger.warning(
                    "cannot follow snapshot updates (%s); serving version %s",
                    type(err).__name__,
                    live.version,
                )
                failing = True
        await asyncio.sleep(check_interval_s)


async def tick(live: LiveSnapshot, *, every_s: float) -> None:
    """Re-render on a clock tick so ageing and the date line show without new data."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await live.rerender()
        except Exception:
            logger.exception("re-render on tick failed; serving the previous bytes")


def snapshot_ctx(check_s: float, tick_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """Load the stored snapshot at start-up, then follow updates and the clock until shutdown."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        live, store = app[keys.LIVE], app[keys.STORE]
        try:
            # Serve the last stored data from the first request on, before any new poll.
            await live.refresh(store)
        except StoreError as err:
            logger.warning("no snapshot at start-up (%s); will keep trying", err)
        tasks = [
            asyncio.create_task(follow_updates(live, store, check_interval_s=check_s)),
            asyncio.create_task(tick(live, every_s=tick_s)),
        ]
        yield
        await cancel_and_wait(tasks)

    return ctx
