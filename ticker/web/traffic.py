"""Counting what the web side answers: every request by route and status, and the data age served.

Routed requests are counted by a middleware. Answers given before routing (``answer.HotAnswers``)
are counted as plain integers in ``HotTally`` and folded into the same metrics in bulk.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from ticker.store import Snapshot
from ticker.web import keys

# Answers that put observations in front of readers; their data age is what the SLO is about.
READER_ROUTES = frozenset({"/widget", "/widget/frame", "/embed.js", "/v1/observations", "/v1/stations/{id}"})
UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot grow the series


class _AgeIndex:
    """Observation times of the current snapshot, sorted once per snapshot for cheap lookups."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._sorted: list[float] = []
        self._by_id: dict[int, float] = {}

    def _index(self, snapshot: Snapshot) -> None:
        if snapshot is not self._snapshot:
            self._by_id = {sid: o.observed_at.timestamp() for sid, o in snapshot.observations.items()}
            self._sorted = sorted(self._by_id.values())
            self._snapshot = snapshot

    def oldest_shown(self, snapshot: Snapshot, now: float, hard_max_age_s: float) -> float | None:
        """Age of the oldest observation young enough to be shown, if any."""
        self._index(snapshot)
        i = bisect.bisect_left(self._sorted, now - hard_max_age_s)
        return now - self._sorted[i] if i < len(self._sorted) else None

    def station(self, snapshot: Snapshot, now: float, station_id: int) -> float | None:
        self._index(snapshot)
        ts = self._by_id.get(station_id)
        return None if ts is None else now - ts


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def _reader_observer(app: web.Application) -> Callable[[str, int, str, int], None]:
    """Count a request by route and status; for reader answers, observe the data age served."""
    ages = _AgeIndex()
    # Looked up once: this runs on every widget hit.
    metrics, live, clock = app[keys.METRICS], app[keys.LIVE], app[keys.CLOCK]
    hard_max_age_s = app[keys.SETTINGS].hard_max_age_s
    # The age served moves with the clock, not per request: work it out at most once a second.
    cached: dict[tuple[int, str], float | None] = {}
    cached_second = [-1]

    def age_of(route: str, station_raw: str) -> float | None:
        second = int(time.monotonic())
        if second != cached_second[0]:
            cached.clear()
            cached_second[0] = second
        key = (id(live.snapshot), station_raw if route == "/v1/stations/{id}" else "")
        if key in cached:
            return cached[key]
        now = clock().timestamp()
        if route == "/v1/stations/{id}":
            sid = int(station_raw) if station_raw.isdigit() else None
            age = ages.station(live.snapshot, now, sid) if sid is not None else None
        else:
            age = ages.oldest_shown(live.snapshot, now, hard_max_age_s)
        if len(cached) < 64:
            cached[key] = age
        return age

    def observe(route: str, status: int, station_raw: str, count: int) -> None:
        metrics.count_request(route, status, count)
        if route in READER_ROUTES and status in (200, 304):
            age = age_of(route, station_raw)
            if age is not None:
                metrics.observe_served_age(max(0.0, age), count)

    return observe


STATION_PREFIX = "/v1/stations/"
MAX_HOT_ROUTES = 2048
HOT_FLUSH_S = 1.0


class HotTally:
    """Answers the front door sent without routing, counted as plain integers.

    Counting a hit is one dictionary update. The totals go into the request counter and the
    served-age histogram in bulk: at every scrape of /metrics and once a second, so that with
    several workers a scrape answered by any of them sees every worker's hits within a second.
    The served age moves with the clock, not per request, so folding it in per second keeps
    its buckets right.
    """

    def __init__(self, app: web.Application) -> None:
        self.counts: dict[tuple[str, int], int] = {}  # (raw path, status) -> answers
        self._observe = _reader_observer(app)
        self._router = app.router
        # Raw path -> (route label, station id text); only kept variants' paths get here, so it
        # stays small, and each distinct URL is parsed once.
        self._routes: dict[str, tuple[str, str]] = {}

    def add(self, raw_path: str, status: int) -> None:
        key = (raw_path, status)
        self.counts[key] = self.counts.get(key, 0) + 1

    def flush(self) -> None:
        """Fold the counts into the metrics and start again from zero."""
        if not self.counts:
            return
        pending, self.counts = self.counts, {}
        for (raw_path, status), count in pending.items():
            route, station = self._route(raw_path)
            self._observe(route, status, station, count)

    def _route(self, raw_path: str) -> tuple[str, str]:
        """The route pattern a raw target was answered for (never the raw target: bounded labels)."""
        hit = self._routes.get(raw_path)
        if hit is None:
            path = raw_path.partition("?")[0]
            if not path.startswith("/"):  # absolute-form: "http://host/widget"
                path = "/" + path.partition("://")[2].partition("/")[2]
            if path.startswith(STATION_PREFIX):
                hit = ("/v1/stations/{id}", path[len(STATION_PREFIX) :])
            elif any(r.canonical == path for r in self._router.resources()):
                hit = (path, "")
            else:
                hit = (UNMATCHED, "")
            if len(self._routes) >= MAX_HOT_ROUTES:
                self._routes.clear()
            self._routes[raw_path] = hit
        return hit


async def fold_hot_counts(tally: HotTally) -> None:
    while True:
        await asyncio.sleep(HOT_FLUSH_S)
        tally.flush()


def request_metrics(app: web.Application) -> Callable[..., Awaitable[web.StreamResponse]]:
    observe = _reader_observer(app)
    metrics = app[keys.METRICS]

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            metrics.count_request(_route_of(request), exc.status)
            raise
        except BaseException:
            metrics.count_request(_route_of(request), 500)
            raise
        observe(_route_of(request), response.status, request.match_info.get("id", ""), 1)
        return response

    return count
