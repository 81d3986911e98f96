"""Routes and handlers. They read the in-process snapshot and send bytes; nothing else."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from ticker import keys
from ticker.live import Rendered
from ticker.models import ErrorDocument
from ticker.render import View, observations_document, render_widget, station_json

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

NO_STORE = "no-store"
_STATION_ID = re.compile(r"^[1-9][0-9]{0,2}$")
LANGS = ("ko", "en")


class BadRequest(Exception):
    """A query the service does not accept; the message never echoes the input."""


def error_response(status: int, error: str, message: str) -> web.Response:
    body = ErrorDocument(error=error, message=message).model_dump_json().encode()
    return web.Response(
        body=body,
        status=status,
        content_type="application/json",
        headers={"Cache-Control": NO_STORE, "X-Content-Type-Options": "nosniff"},
    )


def allowed_query(request: web.Request, allowed: Mapping[str, tuple[str, ...] | None]) -> dict[str, str]:
    """The query as a dict, or BadRequest for an unknown, repeated or out-of-list parameter."""
    out: dict[str, str] = {}
    for name, value in request.query.items():
        if name not in allowed:
            raise BadRequest("unknown query parameter")
        if name in out:
            raise BadRequest("repeated query parameter")
        choices = allowed[name]
        if choices is not None and value not in choices:
            raise BadRequest(f"'{name}' must be one of: {', '.join(choices)}")
        out[name] = value
    return out


def cache_control(request: web.Request) -> str:
    settings = request.app[keys.SETTINGS]
    period = int(settings.effective_poll_interval_s)
    max_age = max(10, period // 2)
    stale_if_error = max(period, settings.hard_max_age_s - period)
    return f"public, max-age={max_age}, stale-while-revalidate={period}, stale-if-error={stale_if_error}"


def send(request: web.Request, rendered: Rendered, *, cors: bool = False) -> web.Response:
    """Answer with pre-rendered bytes: 304 on a matching ETag, gzip when the client takes it."""
    headers = {
        "Cache-Control": cache_control(request),
        "ETag": rendered.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
    inm = request.headers.get("If-None-Match")
    if inm is not None and _etag_matches(inm, rendered.etag):
        return web.Response(status=304, headers=headers)
    body = rendered.body
    if rendered.gzip is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = rendered.gzip
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = rendered.content_type
    return web.Response(body=body, headers=headers)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def _widget(lang: str) -> Callable[[View], tuple[bytes, str]]:
    def render(view: View) -> tuple[bytes, str]:
        return render_widget(view, lang=lang).encode(), "text/html; charset=utf-8"

    return render


def _observations(view: View) -> tuple[bytes, str]:
    doc = observations_document(view)
    return doc.model_dump_json().encode(), "application/json; charset=utf-8"


async def widget(request: web.Request) -> web.Response:
    query = allowed_query(request, {"lang": LANGS})
    lang = query.get("lang", "ko")
    live = request.app[keys.LIVE]
    return send(request, live.get(("widget", lang), _widget(lang)))


async def observations(request: web.Request) -> web.Response:
    allowed_query(request, {})
    live = request.app[keys.LIVE]
    return send(request, live.get(("observations",), _observations), cors=True)


async def station(request: web.Request) -> web.Response:
    allowed_query(request, {})
    raw = request.match_info["id"]
    live = request.app[keys.LIVE]
    wanted = int(raw) if _STATION_ID.match(raw) else None
    if wanted is None or all(s.id != wanted for s in live.stations):
        return error_response(404, "not_found", "no such station")

    def render(view: View) -> tuple[bytes, str]:
        item = next(i for i in view.items if i.station.id == wanted)
        return station_json(item, view.now).model_dump_json().encode(), "application/json; charset=utf-8"

    return send(request, live.get(("station", wanted), render), cors=True)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers={"Cache-Control": NO_STORE})


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is a small JSON body with no-store, and never echoes the request."""
    try:
        return await handler(request)
    except BadRequest as err:
        return error_response(400, "bad_request", str(err))
    except web.HTTPNotFound:
        return error_response(404, "not_found", "no such route")
    except web.HTTPMethodNotAllowed as err:
        resp = error_response(405, "method_not_allowed", "only GET and HEAD are allowed")
        resp.headers["Allow"] = ", ".join(sorted(err.allowed_methods))
        return resp
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "request bodies are not accepted")
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return error_response(err.status, "http_error", err.reason)
    except Exception:
        logger.exception("unhandled error in %s", request.path[:100])
        return error_response(500, "internal", "internal error")


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/widget", widget)
    app.router.add_get("/v1/observations", observations)
    app.router.add_get("/v1/stations/{id}", station)
    app.router.add_get("/healthz", healthz)


