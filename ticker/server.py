"""Serving an app: a runner whose protocol-level errors are small JSON answers that echo nothing.

aiohttp answers requests it cannot parse (a bad request line, an invalid character in the
target, an oversized header) before any middleware runs, with a text body that quotes the
offending bytes. A public widget endpoint must never reflect input, so those answers are
replaced here by the same JSON error shape the app uses, with ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ticker.models import ErrorDocument

logger = logging.getLogger(__name__)


class SafeRequestHandler(RequestHandler):
    """A request handler whose error pages carry no request bytes."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            logger.error("error handling a request", exc_info=exc)
        else:
            # Scanners and broken clients send these all day: one quiet line, no request bytes.
            logger.debug("unparseable request (%s)", type(exc).__name__ if exc else status)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error page")
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        doc = ErrorDocument(
            error="bad_request" if status < 500 else "internal",
            message="the request could not be parsed" if status < 500 else phrase.lower(),
        )
        resp = web.Response(
            status=status,
            body=doc.model_dump_json().encode(),
            content_type="application/json",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )
        resp.force_close()
        return resp


class SafeServer(web.Server):
    """aiohttp's low-level server, building SafeRequestHandler protocols."""

    def __call__(self) -> RequestHandler:
        return SafeRequestHandler(self, loop=self._loop, **self._kwargs)


class SafeAppRunner(web.AppRunner):
    """An AppRunner whose connections use SafeRequestHandler."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # Same object, same state: only the protocol factory changes.
        server.__class__ = SafeServer
        return server


def make_runner(app: web.Application, **kwargs: Any) -> SafeAppRunner:
    """The runner every ticker process serves with."""
    kwargs.setdefault("access_log", None)
    return SafeAppRunner(app, **kwargs)
