"""Ops routes: /v1/freshness, /status, /metrics and /readyz."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.aiohttp import make_aiohttp_handler

from ticker.errors import StoreError, StoreRefusedError
from ticker.freshness import State
from ticker.report import FreshnessReport, RedisStateLog, headline, load_report, poller_health
from ticker.tasks import cancel_and_wait
from ticker.web import keys
from ticker.web.answer import HotAnswers
from ticker.web.query import BadRequest
from ticker.web.render import ENV
from ticker.web.traffic import HotTally, fold_hot_counts, request_metrics

logger = logging.getLogger(__name__)


NO_STORE = "no-store"
STATUS_REFRESH_S = 10
STATUS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def setup_ops_routes(app: web.Application) -> None:
    """Register the ops routes, the request accounting and the ops cleanup context."""
    role = app[keys.ROLE]
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/freshness", freshness)
    app.router.add_get("/status", status_page)
    app.router.add_get("/metrics", _metrics_handler(app))
    app.router.add_get("/readyz", _readyz(role))
    app[keys.REDIS_STATE] = RedisStateLog()
    # Outermost, so it sees the status the client gets, after errors became JSON answers.
    app.middlewares.insert(0, request_metrics(app))
    tally = app[keys.HOT_TALLY] = HotTally(app)
    app[keys.HOT_ANSWERS] = HotAnswers(app[keys.LIVE].lookup, tally.add, app.get(keys.HOT_MISS))
    app.cleanup_ctx.append(_ops_ctx)


async def _ops_ctx(app: web.Application) -> AsyncIterator[None]:
    metrics, tally = app[keys.METRICS], app[keys.HOT_TALLY]
    folding = asyncio.create_task(fold_hot_counts(tally), name="ticker-hot-counts")
    renders = asyncio.create_task(_fold_renders_every_second(app), name="ticker-render-counts")
    yield
    await cancel_and_wait([folding, renders])
    tally.flush()
    _fold_renders(app)
    metrics.process_exited()


def _fold_renders(app: web.Application) -> None:
    live = app[keys.LIVE]
    app[keys.METRICS].fold_renders(live.renders, live.budget.refused)


async def _fold_renders_every_second(app: web.Application) -> None:
    while True:
        await asyncio.sleep(1.0)
        _fold_renders(app)


async def current_report(app: web.Application) -> FreshnessReport:
    """The freshness report as of now, from Redis, or from this process's snapshot without it."""
    settings, live, stations = app[keys.SETTINGS], app[keys.LIVE], app[keys.STATIONS]
    report = await load_report(
        app[keys.STORE],
        stations,
        app[keys.CLOCK](),
        interval_s=settings.effective_poll_interval_s,
        source_names=[settings.effective_source, *settings.effective_word_feeds],
        fallback=live.snapshot if live.loaded else None,
        served_version=live.version if live.loaded else None,
        warnings_source=settings.warnings_source,
        warnings_max_age_s=settings.warnings_max_age_s,
    )
    app[keys.REDIS_STATE].update(report.redis, report.redis_reason)
    return report


def _no_query(request: web.Request) -> None:
    """These routes take no parameters; anything in the query is a client error."""
    if request.query_string:
        raise BadRequest("this route takes no query parameters")


async def healthz(request: web.Request) -> web.Response:
    _no_query(request)
    return web.json_response({"status": "ok"}, headers={"Cache-Control": NO_STORE, "X-Frame-Options": "DENY"})


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
        _fold_renders(request.app)
        live = request.app[keys.LIVE]
        if live.loaded:
            metrics.snapshot_version.set(live.version)
        resp = await expose(request)
        # Every scrape must reach a live process: no cache between Prometheus and it.
        resp.headers["Cache-Control"] = NO_STORE
        return resp

    return handler


READY_CHECKS = ("redis", "snapshot", "poll_heartbeat", "source")
READY_CHECK_TIMEOUT_S = 1.0  # each check; probes commonly give up after 1 s


async def _redis_check(app: web.Application) -> str | None:
    """Reachable and taking writes: a PING, then one tiny write (refused when out of memory,
    on a read-only replica, or with credentials Redis does not take)."""
    states = app[keys.REDIS_STATE]
    store = app[keys.STORE]
    try:
        await store.ping()
        await store.probe_write()
    except StoreRefusedError as err:
        states.update("refusing_writes", err.reason)
        return str(err)  # "redis: refusing writes: out of memory (maxmemory reached)"
    except StoreError as err:
        states.update("unreachable", str(err))
        return str(err)
    states.update("ok", None)
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


async def _source_check(app: web.Application) -> str | None:
    """Simulated weather only when asked for: a deployment that forgot its key never gets ready."""
    if app[keys.SETTINGS].source is None and app[keys.SETTINGS].effective_source == "sim":
        return (
            "serving simulated weather: TICKER_KMA_AUTH_KEY is unset; set it, "
            "or set TICKER_SOURCE=sim to serve simulated data on purpose"
        )
    return None


_CHECKS = {
    "redis": _redis_check,
    "snapshot": _snapshot_check,
    "poll_heartbeat": _heartbeat_check,
    "source": _source_check,
}


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
    # The source is a fact of the configuration, not a dependency: every probe asks it, so that
    # a web replica's narrow probe (?check=snapshot) also keeps simulated weather out of service.
    return tuple(n for n in names if n in asked or n == "source")


def _readyz(role: str) -> Handler:
    # A poller-only process serves no snapshot, so it has nothing to load.
    names = tuple(n for n in READY_CHECKS if n != "snapshot" or role in ("all", "web"))

    async def handler(request: web.Request) -> web.Response:
        ok: list[str] = []
        failing: dict[str, str] = {}
        for name in _wanted(request, names):
            if name == "poll_heartbeat" and "redis" in failing:
                refusing = "refusing" in failing["redis"]
                failing[name] = "unknown: Redis " + ("refusing writes" if refusing else "unreachable")
                continue
            try:
                async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
                    reason = await _CHECKS[name](request.app)
            except TimeoutError:
                reason = f"no answer within {READY_CHECK_TIMEOUT_S:g} s"
                if name == "redis":
                    request.app[keys.REDIS_STATE].update("unreachable", reason)
                    reason = "redis: " + reason
            if reason is None:
                ok.append(name)
            else:
                failing[name] = reason
        return web.json_response(
            {"role": role, "ok": ok, "failing": failing},
            status=503 if failing else 200,
            headers={"Cache-Control": NO_STORE},
        )

    return handler
