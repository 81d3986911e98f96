"""Error answers of the web side: a small JSON body, no-store, never embedded, never echoing the request."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ticker.models import ErrorDocument
from ticker.web.oembed import FormatNotImplemented, NoEmbed
from ticker.web.query import BadRequest
from ticker.web.snapshot import RenderRefused

logger = logging.getLogger(__name__)


NO_STORE = "no-store"

# Headers every error answer carries: nothing may cache it, and it never embeds.
ERROR_HEADERS = {
    "Cache-Control": NO_STORE,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Access-Control-Allow-Origin": "*",
}


def error_response(status: int, error: str, message: str) -> web.Response:
    body = ErrorDocument(error=error, message=message).model_dump_json().encode()
    return web.Response(
        body=body, status=status, content_type="application/json", charset="utf-8", headers=ERROR_HEADERS
    )


def too_many(retry_after_s: int) -> web.Response:
    resp = error_response(429, "too_many_variants", "too many distinct variants asked for; retry later")
    resp.headers["Retry-After"] = str(retry_after_s)
    return resp


class AmpOriginRefused(Exception):
    """An AMP page origin (__amp_source_origin) that TICKER_AMP_ORIGINS does not list."""


class StationNotFound(Exception):
    """A station id that is not configured."""


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is a small JSON body with no-store, and never echoes the request."""
    if request.body_exists and request.method in ("GET", "HEAD"):
        # Every route is a GET: a body is never read, so none is accepted.
        return error_response(413, "too_large", "request bodies are not accepted")
    try:
        return await handler(request)
    except BadRequest as err:
        return error_response(400, "bad_request", str(err))
    except StationNotFound:
        return error_response(404, "not_found", "no such station")
    except AmpOriginRefused:
        return error_response(403, "forbidden", "this AMP page origin is not allowed")
    except NoEmbed:
        return error_response(404, "not_found", "no embed for this url and size")
    except FormatNotImplemented:
        return error_response(501, "not_implemented", "only format=json is available")
    except RenderRefused as err:
        # Too many variants not kept asked for at once: kept ones are still answered as usual.
        return too_many(err.retry_after_s)
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
