"""The naive baseline: every request reads Redis and renders the template."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from ticker.config import Settings
from ticker.stations import load_stations
from ticker.store import Store
from ticker.web.render import render_widget
from ticker.web.view import build_view, observations_document
from ticker.workers import new_event_loop


def main() -> None:
    port, redis_url = int(sys.argv[1]), sys.argv[2]
    settings = Settings(_env_file=None)
    stations = load_stations(settings.stations_path())

    async def redis_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        pool = BlockingConnectionPool.from_url(redis_url, max_connections=128, decode_responses=True)
        app["store"] = Store(Redis(connection_pool=pool))
        yield
        await app["store"].redis.aclose()

    async def snapshot_view(request: web.Request):  # type: ignore[no-untyped-def]
        snap = await request.app["store"].load_snapshot()
        return build_view(
            stations,
            snap.observations,
            datetime.now(UTC),
            version=snap.version,
            hard_max_age_s=settings.hard_max_age_s,
        )

    async def widget(request: web.Request) -> web.Response:
        view = await snapshot_view(request)
        return web.Response(body=render_widget(view).encode(), content_type="text/html")

    async def observations(request: web.Request) -> web.Response:
        view = await snapshot_view(request)
        return web.Response(
            body=observations_document(view).model_dump_json().encode(),
            content_type="application/json",
        )

    app = web.Application()
    app.cleanup_ctx.append(redis_ctx)
    app.router.add_get("/widget", widget)
    app.router.add_get("/v1/observations", observations)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=new_event_loop())


if __name__ == "__main__":
    main()
