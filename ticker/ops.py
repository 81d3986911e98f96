"""Ops routes (/v1/freshness, /status, /metrics, /readyz), request metrics, the cycle hook."""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import jinja2
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from ticker import keys
from ticker.errors import StoreError
from ticker.freshness import State, TransitionLog, assess, human_age
from ticker.live import cancel_and_wait
from ticker.models import KST
from ticker.poller import CycleResult
from ticker.report import FreshnessReport, headline, load_report, poller_health
from ticker.store import Snapshot
from ticker.web import BadRequest

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NO_STORE = "no-store"
STATUS_REFRESH_S = 10
# Answers that put observations in front of readers; their data age is what the SLO is about.
READER_ROUTES = frozenset(
    {"/widget", "/widget/frame", "/embed.js", "/v1/observations", "/v1/stations/{id}"}
)
UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot grow the series
STATUS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ticker", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _kst(value: datetime | None, now: datetime | None = None) -> str:
    """KST clock time; with the date when it is not today's."""
    if value is None:
        return "-"
    local = value.astimezone(KST)
    if now is not None and local.date() == now.astimezone(KST).date():
        return local.strftime("%H:%M:%S") if local.second else local.strftime("%H:%M")
    return local.strftime("%m-%d %H:%M")


ENV.filters["kst"] = _kst
ENV.filters["age"] = human_age


def setup_ops_routes(app: web.Application, *, role: str) -> None:
    """Register the ops routes, the request-metrics middleware and the ops cleanup context."""
    app.router.add_get("/v1/freshness", freshness)
    app.router.add_get("/status", status_page)
    app.router.add_get("/metrics", _metrics_handler(app))
    app.router.add_get("/readyz", _readyz(role))
    # Outermost, so it sees the status the client gets, after errors became JSON answers.
    app.middlewares.insert(0, _request_metrics(app))
    app[keys.HOT_TALLY] = HotTally(app)
    app.cleanup_ctx.append(_ops_ctx)


async def _ops_ctx(app: web.Application) -> AsyncIterator[None]:
    metrics, tally = app[keys.METRICS], app[keys.HOT_TALLY]
    # ticker_is_leader follows the poll lease (set by the lease's on_change), not the role.
    if keys.POLLER in app:
        metrics.init_source(app[keys.POLLER].source.name)
    folding = asyncio.create_task(_fold_hot_counts(tally), name="ticker-hot-counts")
    yield
    await cancel_and_wait([folding])
    tally.flush()
    metrics.process_exited()


async def current_report(app: web.Application) -> FreshnessReport:
    """The freshness report as of now, from Redis, or from this process's snapshot without it."""
    settings, live, stations = app[keys.SETTINGS], app[keys.LIVE], app[keys.STATIONS]
    return await load_report(
        app[keys.STORE],
        stations,
        app[keys.CLOCK](),
        interval_s=settings.effective_poll_interval_s,
        source_names=[settings.effective_source],
        fallback=live.snapshot if live.loaded else None,
        served_version=live.version if live.loaded else None,
    )


def _no_query(request: web.Request) -> None:
    """These routes take no parameters; anything in the query is a client error."""
    if request.query_string:
        raise BadRequest("this route takes no query parameters")


async def freshness(request: web.Request) -> web.Response:
    _no_query(request)
    report = await current_report(request.app)
    return web.Response(
        text=report.model_dump_json(),
        content_type="application/json",
        headers={"Cache-Control": NO_STORE, "X-Content-Type-Options": "nosniff"},
    )


async def status_page(request: web.Request) -> web.Response:
    _no_query(request)
    report = await current_report(request.app)
    html = ENV.get_template("status.html").render(
        report=report,
        headline=headline(report),
        now=report.generated_at,
        State=State,
        refresh_s=STATUS_REFRESH_S,
        me={"host": socket.gethostname(), "pid": os.getpid()},
    )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={
            "Cache-Control": NO_STORE,
            "Content-Security-Policy": STATUS_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _metrics_handler(app: web.Application) -> Handler:
    metrics = app[keys.METRICS]
    expose = make_aiohttp_handler(metrics.exposition_registry())

    async def handler(request: web.Request) -> web.StreamResponse:
        _no_query(request)
        report = await current_report(request.app)
        metrics.state.update(report)
        request.app[keys.HOT_TALLY].flush()
        live = request.app[keys.LIVE]
        if live.loaded:
            metrics.snapshot_version.set(live.version)
        return await expose(request)

    return handler


READY_CHECKS = ("redis", "snapshot", "poll_heartbeat")


async def _redis_check(app: web.Application) -> str | None:
    try:
        await app[keys.STORE].ping()
    except StoreError as err:
        return str(err)
    return None


async def _snapshot_check(app: web.Application) -> str | None:
    live = app[keys.LIVE]
    return None if live.loaded and live.version > 0 else "no snapshot loaded from Redis yet"


async def _heartbeat_check(app: web.Application) -> str | None:
    try:
        beat = await app[keys.STORE].load_heartbeat()
    except StoreError as err:
        return str(err)
    interval = app[keys.SETTINGS].effective_poll_interval_s
    health = poller_health(beat, None, app[keys.CLOCK](), interval_s=interval)
    if health.alive:
        return None
    if health.last_cycle_at is None:
        return "no poll cycle recorded"
    return f"last poll cycle {health.heartbeat_age_s} s ago (limit {health.max_silence_s} s)"


_CHECKS = {"redis": _redis_check, "snapshot": _snapshot_check, "poll_heartbeat": _heartbeat_check}


def _wanted(request: web.Request, names: tuple[str, ...]) -> tuple[str, ...]:
    """The checks the query asks for (``?check=snapshot``, repeatable or comma-separated)."""
    if any(key != "check" for key in request.query):
        raise BadRequest("unknown query parameter")
    values = request.query.getall("check", [])
    asked = [n for value in values for n in value.split(",")]
    if not values:
        return names
    if not all(asked):
        raise BadRequest("'check' names an empty check")
    if any(n not in names for n in asked):
        raise BadRequest(f"'check' must be among: {', '.join(names)}")
    return tuple(n for n in names if n in asked)


def _readyz(role: str) -> Handler:
    # A poller-only process serves no snapshot, so it has nothing to load.
    names = tuple(n for n in READY_CHECKS if n != "snapshot" or role in ("all", "web"))

    async def handler(request: web.Request) -> web.Response:
        ok: list[str] = []
        failing: dict[str, str] = {}
        for name in _wanted(request, names):
            if name == "poll_heartbeat" and "redis" in failing:
                failing[name] = "unknown: Redis unreachable"
                continue
            reason = await _CHECKS[name](request.app)
            if reason is None:
                ok.append(name)
            else:
                failing[name] = reason
        return web.json_response(
            {"ok": ok, "failing": failing},
            status=503 if failing else 200,
            headers={"Cache-Control": NO_STORE},
        )

    return handler


class _AgeIndex:
    """Observation times of the current snapshot, sorted once per snapshot for cheap lookups."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._sorted: list[float] = []
        self._by_id: dict[int, float] = {}

    def _index(self, snapshot: Snapshot) -> None:
        if snapshot is not self._snapshot:
            self._by_id = {
                sid: o.observed_at.timestamp() for sid, o in snapshot.observations.items()
            }
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
        hit = self._routes.get(raw_path)
        if hit is None:
            path = raw_path.partition("?")[0]
            if path.startswith(STATION_PREFIX):
                hit = ("/v1/stations/{id}", path[len(STATION_PREFIX) :])
            else:
                hit = (path, "")
            if len(self._routes) >= MAX_HOT_ROUTES:
                self._routes.clear()
            self._routes[raw_path] = hit
        return hit


async def _fold_hot_counts(tally: HotTally) -> None:
    while True:
        await asyncio.sleep(HOT_FLUSH_S)
        tally.flush()


def _request_metrics(app: web.Application) -> Callable[..., Awaitable[web.StreamResponse]]:
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


def cycle_hook(app: web.Application) -> Callable[[CycleResult], Awaitable[None]]:
    """The poller's ``on_cycle``: count the cycle, log station state transitions."""
    transitions = TransitionLog()

    async def on_cycle(result: CycleResult) -> None:
        app[keys.METRICS].observe_cycle(result)
        store, stations = app[keys.STORE], app[keys.STATIONS]
        try:
            snap = await store.load_snapshot()
        except StoreError:
            return  # the poller itself reports Redis outages, once
        transitions.update(assess(stations, snap.observations, snap.fetched_at, app[keys.CLOCK]()))

    return on_cycle
