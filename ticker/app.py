"""The application factory: the web side, the poll side, or both, wired to one Redis.

This is where the two sides meet; neither imports the other. Each resource has one cleanup
context (Redis, the snapshot followers, the poller).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from ticker.config import Settings
from ticker.errors import StoreError
from ticker.metrics import Metrics
from ticker.models import Station
from ticker.poll.election import ElectedPoller
from ticker.poll.lease import PollLease
from ticker.poll.poller import Poller, cycle_hook
from ticker.poll.resilience import Circuit
from ticker.poll.sources import Source, build_source, new_session
from ticker.poll.sources.kma_warnings import WarningsSource, build_warnings_source
from ticker.poll.warnings import ScheduledWarnings, WarningsPoller
from ticker.redis_client import connect
from ticker.store import Store
from ticker.web import keys
from ticker.web.errors import errors_as_json
from ticker.web.openapi import setup_openapi_route
from ticker.web.ops import setup_ops_routes
from ticker.web.routes import setup_routes
from ticker.web.snapshot import LiveSnapshot, snapshot_ctx

logger = logging.getLogger(__name__)

CLIENT_MAX_SIZE = 16 * 1024  # GET-only service: no request carries a body worth reading
SNAPSHOT_CHECK_S = 5.0
TICK_S = 20.0

# The poll side's objects, for the ops hooks and for tests.
REDIS = web.AppKey("redis", Redis)
POLLER = web.AppKey("poller", Poller)
LEASE = web.AppKey("lease", PollLease)
WARNINGS_POLLER = web.AppKey("warnings_poller", WarningsPoller)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    stations: Sequence[Station],
    redis: Redis | None = None,
    clock: Callable[[], datetime] = utcnow,
    source: Source | None = None,
    warnings_source: WarningsSource | None = None,
    registry: CollectorRegistry | None = None,
    role: str | None = None,
    snapshot_check_s: float = SNAPSHOT_CHECK_S,
    tick_s: float = TICK_S,
) -> web.Application:
    """Build the ticker app: reader routes for role web/all, the poller for role poller/all.

    Every role serves the ops routes; a poller-only process answers the reader routes (and
    ``/openapi.json``, which describes them) with a 404 JSON error, as for any unknown path.
    """
    role = role or settings.role
    app = web.Application(middlewares=[errors_as_json], client_max_size=CLIENT_MAX_SIZE)
    app[keys.SETTINGS] = settings
    app[keys.ROLE] = role
    app[keys.STATIONS] = list(stations)
    app[keys.CLOCK] = clock
    app[keys.METRICS] = Metrics(registry)
    # Every role has one (the ops surfaces read it); only a serving role ever loads it.
    app[keys.LIVE] = LiveSnapshot(
        stations,
        clock=clock,
        hard_max_age_s=settings.hard_max_age_s,
        warnings_max_age_s=settings.warnings_max_age_s,
        renders_per_s=settings.renders_per_s,
    )

    app.cleanup_ctx.append(_redis_ctx(redis))
    if role in ("all", "web"):
        app.cleanup_ctx.append(snapshot_ctx(snapshot_check_s, tick_s))
        setup_routes(app)
        setup_openapi_route(app)
    if role in ("all", "poller"):
        app.cleanup_ctx.append(_poller_ctx(source, warnings_source))
    setup_ops_routes(app)
    return app


def _redis_ctx(given: Redis | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        if given is not None:
            client = given
        else:
            if settings.redis_url is None:
                msg = "no Redis URL: set TICKER_REDIS_URL or run through 'ticker serve'"
                raise StoreError(msg)
            client = connect(settings.redis_url.get_secret_value())
        app[REDIS] = client
        app[keys.STORE] = Store(client)
        yield
        if given is None:
            await client.aclose()

    return ctx


def _poller_ctx(
    given: Source | None, given_warnings: WarningsSource | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        store = app[keys.STORE]
        metrics = app[keys.METRICS]
        session = new_session() if given is None or given_warnings is None else None
        source = given if given is not None else build_source(settings, session)  # type: ignore[arg-type]
        wsource = given_warnings or build_warnings_source(settings, session)  # type: ignore[arg-type]
        metrics.init_source(source.name)
        metrics.init_source(wsource.name)
        stations: list[Station] = app[keys.STATIONS]
        wpoller = app[WARNINGS_POLLER] = WarningsPoller(
            stations=stations,
            source=wsource,
            store=store,
            clock=app[keys.CLOCK],
            max_age_s=settings.warnings_max_age_s,
            epoch=lambda: lease.epoch,
            circuit=Circuit(base_s=settings.warnings_interval_s),
            metrics=metrics,
        )
        warnings = ScheduledWarnings(
            wpoller,
            held=lambda: lease.held,
            interval_s=settings.warnings_interval_s,
            jitter_s=min(settings.poll_jitter_s, settings.warnings_interval_s / 10),
        )

        def lease_changed(held: bool) -> None:
            metrics.is_leader.set(1 if held else 0)
            warnings.lease_changed(held)

        lease = PollLease(store, ttl_s=settings.lease_ttl_s, on_change=lease_changed)
        poller = Poller(
            stations=stations,
            source=source,
            store=store,
            clock=app[keys.CLOCK],
            interval_s=settings.effective_poll_interval_s,
            epoch=lambda: lease.epoch,
            circuit=Circuit(base_s=settings.effective_poll_interval_s),
            budget_s=settings.kma_cycle_budget_s,
            on_cycle=cycle_hook(metrics, store, stations, app[keys.CLOCK]),
        )
        app[POLLER] = poller
        app[LEASE] = lease
        elected = ElectedPoller(
            poller=poller,
            lease=lease,
            store=store,
            interval_s=settings.effective_poll_interval_s,
            jitter_s=min(settings.poll_jitter_s, settings.effective_poll_interval_s / 10),
        )

        async def stop_polling(_: web.Application) -> None:
            # On shutdown, before waiting for in-flight requests: hand the lease over at once.
            await warnings.stop()
            await elected.stop()

        app.on_shutdown.append(stop_polling)
        await warnings.start()
        await elected.start()
        logger.info(
            "poller for %s every %ss, %d stations; polls while it holds the lease (ttl %ss)",
            source.name,
            settings.effective_poll_interval_s,
            len(stations),
            settings.lease_ttl_s,
        )
        yield
        await warnings.stop()
        await elected.stop()
        if given is None:
            await source.close()
        if session is not None:
            await session.close()

    return ctx
