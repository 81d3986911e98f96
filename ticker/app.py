"""The application factory and one cleanup context per resource."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

from aiohttp import ClientSession, ClientTimeout, web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from ticker import keys
from ticker.config import Settings
from ticker.election import ElectedPoller
from ticker.errors import StoreError
from ticker.lease import PollLease
from ticker.live import LiveSnapshot, cancel_and_wait, follow_updates, tick
from ticker.metrics import Metrics
from ticker.models import Station
from ticker.openapi import setup_openapi_route
from ticker.ops import cycle_hook, setup_ops_routes
from ticker.poller import Poller
from ticker.resilience import Circuit
from ticker.sources import Source, build_source
from ticker.store import Store, connect
from ticker.web import errors_as_json, setup_routes

logger = logging.getLogger(__name__)

CLIENT_MAX_SIZE = 16 * 1024  # GET-only service: no request carries a body worth reading
SNAPSHOT_CHECK_S = 5.0
TICK_S = 20.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    *,
    stations: Sequence[Station],
    redis: Redis | None = None,
    clock: Callable[[], datetime] = utcnow,
    source: Source | None = None,
    registry: CollectorRegistry | None = None,
    role: str | None = None,
    snapshot_check_s: float = SNAPSHOT_CHECK_S,
    tick_s: float = TICK_S,
) -> web.Application:
    """Build the ticker app: web routes for role web/all, the poller for role poller/all."""
    role = role or settings.role
    app = web.Application(middlewares=[errors_as_json], client_max_size=CLIENT_MAX_SIZE)
    app[keys.SETTINGS] = settings
    app[keys.STATIONS] = list(stations)
    app[keys.CLOCK] = clock
    app[keys.METRICS] = Metrics(registry)
    app[keys.LIVE] = LiveSnapshot(stations, clock=clock, hard_max_age_s=settings.hard_max_age_s)

    app.cleanup_ctx.append(_redis_ctx(redis))
    if role in ("all", "web"):
        app.cleanup_ctx.append(_snapshot_ctx(snapshot_check_s, tick_s))
    if role in ("all", "poller"):
        app.cleanup_ctx.append(_poller_ctx(source))
    setup_routes(app)
    setup_ops_routes(app, role=role)
    setup_openapi_route(app)
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
        app[keys.REDIS] = client
        app[keys.STORE] = Store(client)
        yield
        if given is None:
            await client.aclose()

    return ctx


def _snapshot_ctx(check_s: float, tick_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
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


def _poller_ctx(given: Source | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        store = app[keys.STORE]
        metrics = app[keys.METRICS]
        session: ClientSession | None = None
        source = given
        if source is None:
            session = ClientSession(timeout=ClientTimeout(total=15, sock_connect=3, sock_read=10))
            source = build_source(settings, session)
        lease = PollLease(
            store,
            ttl_s=settings.lease_ttl_s,
            on_change=lambda held: metrics.is_leader.set(1 if held else 0),
        )
        stations: list[Station] = app[keys.STATIONS]
        poller = Poller(
            stations=stations,
            source=source,
            store=store,
            clock=app[keys.CLOCK],
            interval_s=settings.effective_poll_interval_s,
            epoch=lambda: lease.epoch,
            circuit=Circuit(base_s=settings.effective_poll_interval_s),
            on_cycle=cycle_hook(app),
        )
        app[keys.POLLER] = poller
        app[keys.LEASE] = lease
        elected = ElectedPoller(
            poller=poller,
            lease=lease,
            interval_s=settings.effective_poll_interval_s,
            jitter_s=min(settings.poll_jitter_s, settings.effective_poll_interval_s / 10),
        )

        async def stop_polling(_: web.Application) -> None:
            # On shutdown, before waiting for in-flight requests: hand the lease over at once.
            await elected.stop()

        app.on_shutdown.append(stop_polling)
        await elected.start()
        logger.info(
            "poller for %s every %ss, %d stations; polls while it holds the lease (ttl %ss)",
            source.name,
            settings.effective_poll_interval_s,
            len(app[keys.STATIONS]),
            settings.lease_ttl_s,
        )
        yield
        await elected.stop()
        if given is None:
            await source.close()
        if session is not None:
            await session.close()

    return ctx
