"""The OpenAPI document of the service, generated from the pydantic models it answers with."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ticker import __version__
from ticker.models import ErrorDocument, ObservationsDocument, StationObservation
from ticker.report import FreshnessReport
from ticker.web import keys
from ticker.web.amp import AmpDocument
from ticker.web.oembed import OEmbedDocument
from ticker.web.query import BadRequest
from ticker.web.render import ICONS, LANGS, LAYOUTS, SVG_THEMES, THEMES
from ticker.web.scripts import ELEMENT_SCRIPT_PATH
from ticker.wrn import WarningsDocument

REF = "#/components/schemas/{model}"


class Health(BaseModel):
    """The body of GET /healthz."""

    status: str


class Readiness(BaseModel):
    """The body of GET /readyz: named checks that pass, and why the others fail."""

    ok: list[str]
    failing: dict[str, str]


MODELS: tuple[type[BaseModel], ...] = (
    ObservationsDocument, StationObservation, ErrorDocument, FreshnessReport, Health, Readiness,
    WarningsDocument, OEmbedDocument, AmpDocument,
)  # fmt: skip


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _body(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def _enum(name: str, values: Sequence[str], description: str) -> dict[str, Any]:
    return {
        "name": name, "in": "query", "required": False, "description": description,
        "schema": {"type": "string", "enum": list(values)},
    }  # fmt: skip


def _stations_param(ids: Sequence[int]) -> dict[str, Any]:
    one = "(" + "|".join(str(i) for i in ids) + ")"
    return {
        "name": "stations",
        "in": "query",
        "required": False,
        "description": "a subset of the configured station ids, comma-separated; shown in "
        "configured order whatever the order asked",
        "schema": {"type": "string", "pattern": f"^{one}(,{one}){{0,63}}$"},
    }


def _pixels(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name, "in": "query", "required": False, "description": description,
        "schema": {"type": "integer", "minimum": 1, "maximum": 99999},
    }  # fmt: skip


BAD_REQUEST = _json(ErrorDocument, "a query parameter is unknown, repeated or out of its list")
NOT_MODIFIED = {"description": "the If-None-Match ETag still matches; empty body"}
TOO_MANY = _json(
    ErrorDocument,
    "a variant not kept would need a render and this process's render budget "
    "(TICKER_RENDERS_PER_S) is spent; Retry-After says when to ask again (no-store)",
)


def _get(summary: str, responses: dict[str, Any], params: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = list(params)
    return {"get": op}


def build_openapi(station_ids: Sequence[int], pinned_script_path: str) -> dict[str, Any]:
    """The whole document for the configured stations and the current pinned script."""
    _, defs = models_json_schema([(m, "serialization") for m in MODELS], ref_template=REF)
    lang = _enum("lang", LANGS, "label language")
    stations = _stations_param(station_ids)
    look = [
        lang,
        _enum("theme", THEMES, "colour theme"),
        _enum("layout", LAYOUTS, "a scrolling ticker or a list"),
        _enum("icons", ICONS, "weather icons beside the words (default off: the strip's weight budget)"),
    ]
    variant = [*look, stations]
    html_ok = _body("text/html", "the rendered ticker")
    paths = {
        "/widget": _get(
            "The ticker as an HTML fragment for SSI/ESI or direct insertion",
            {"200": html_ok, "304": NOT_MODIFIED, "400": BAD_REQUEST, "429": TOO_MANY},
            variant,
        ),
        "/widget/frame": _get(
            "The ticker as a small complete page for an iframe",
            {"200": html_ok, "304": NOT_MODIFIED, "400": BAD_REQUEST, "429": TOO_MANY},
            variant,
        ),
        "/embed.js": _get(
            "The script embed: renders the ticker into a shadow root where the script stands",
            {"200": _body("text/javascript", "the script"), "304": NOT_MODIFIED, "400": BAD_REQUEST},
        ),
        ELEMENT_SCRIPT_PATH: _get(
            "The <kma-ticker> custom element (a module script; v1 of its attributes and parts)",
            {"200": _body("text/javascript", "the module"), "304": NOT_MODIFIED, "400": BAD_REQUEST},
        ),
        pinned_script_path: _get(
            "The same script at a content-addressed URL, for Subresource Integrity (immutable)",
            {"200": _body("text/javascript", "the script"), "304": NOT_MODIFIED, "400": BAD_REQUEST},
        ),
        "/builder": _get(
            "The embed builder: pick stations, language, theme, layout and icons; copy a snippet",
            {"200": html_ok, "304": NOT_MODIFIED, "400": BAD_REQUEST},
        ),
        "/builder.js": _get(
            "The builder page's script",
            {"200": _body("text/javascript", "the script"), "304": NOT_MODIFIED, "400": BAD_REQUEST},
        ),
        "/widget.txt": _get(
            "The ticker as one line of plain text (terminals, SMS, alt text)",
            {
                "200": _body("text/plain", "the line"),
                "304": NOT_MODIFIED,
                "400": BAD_REQUEST,
                "429": TOO_MANY,
            },
            [lang, stations],
        ),
        "/widget.svg": _get(
            "The ticker as a self-contained SVG picture with its text as text",
            {
                "200": _body("image/svg+xml", "the picture"),
                "304": NOT_MODIFIED,
                "400": BAD_REQUEST,
                "429": TOO_MANY,
            },
            [lang, _enum("theme", SVG_THEMES, "colour theme"), stations],
        ),
        "/demo": _get(
            "A demo page embedding the ticker all three ways",
            {"200": html_ok, "304": NOT_MODIFIED, "400": BAD_REQUEST, "429": TOO_MANY},
            look,
        ),
        "/v1/amp": _get(
            "The strip as amp-list JSON (one item), with AMP's CORS for the allowed page origins",
            {
                "200": _json(AmpDocument, "one item: the date line, the stations, the attribution"),
                "304": NOT_MODIFIED,
                "400": BAD_REQUEST,
                "403": _json(ErrorDocument, "__amp_source_origin is not in TICKER_AMP_ORIGINS"),
                "429": TOO_MANY,
            },
            [
                lang,
                stations,
                {
                    "name": "__amp_source_origin",
                    "in": "query",
                    "required": False,
                    "description": "the AMP page's origin, added by the AMP runtime; echoed in "
                    "AMP-Access-Control-Allow-Source-Origin when allowed",
                    "schema": {"type": "string", "maxLength": 200},
                },
            ],
        ),
        "/oembed": _get(
            "oEmbed (type rich): the iframe of one of this service's own pages",
            {
                "200": _json(OEmbedDocument, "the oEmbed answer"),
                "304": NOT_MODIFIED,
                "400": BAD_REQUEST,
                "404": _json(ErrorDocument, "not a page of this service, or nothing fits the size"),
                "501": _json(ErrorDocument, "format=xml: only json is offered"),
                "429": TOO_MANY,
            },
            [
                {
                    "name": "url",
                    "in": "query",
                    "required": True,
                    "description": "a page of this service: /widget/frame, /widget or /demo, with its "
                    "query; absolute on the service's origin, or a path on it",
                    "schema": {"type": "string", "maxLength": 300},
                    "example": "/widget/frame?lang=en",
                },
                _enum("format", ("json",), "the answer's format; only json"),
                _pixels("maxwidth", "the widest iframe the consumer takes"),
                _pixels("maxheight", "the tallest iframe the consumer takes"),
            ],
        ),
        "/v1/observations": _get(
            "All stations (or a subset), in configured order",
            {
                "200": _json(ObservationsDocument, "the observations"),
                "304": NOT_MODIFIED,
                "400": BAD_REQUEST,
                "429": TOO_MANY,
            },
            [_stations_param(station_ids)],
        ),
        "/v1/warnings": _get(
            "Weather warnings (기상특보) in effect on the configured stations' regions; none while "
            "the warnings feed is older than TICKER_WARNINGS_MAX_AGE_S (warnings_status: unknown)",
            {"200": _json(WarningsDocument, "the warnings"), "304": NOT_MODIFIED, "400": BAD_REQUEST},
        ),
        "/v1/stations/{id}": {
            "get": {
                "summary": "One station",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "KMA ASOS station id",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 999},
                    }
                ],
                "responses": {
                    "200": _json(StationObservation, "the station"),
                    "304": NOT_MODIFIED,
                    "400": BAD_REQUEST,
                    "404": _json(ErrorDocument, "no such station"),
                },
            }
        },
        "/v1/freshness": _get(
            "Per-station freshness for monitors",
            {"200": _json(FreshnessReport, "the freshness report"), "400": BAD_REQUEST},
        ),
        "/healthz": _get("Liveness", {"200": _json(Health, "the process lives")}),
        "/readyz": _get(
            "Readiness with named checks",
            {
                "200": _json(Readiness, "every check passes"),
                "503": _json(Readiness, "a check fails"),
                "400": BAD_REQUEST,
            },
            [
                {
                    "name": "check",
                    "in": "query",
                    "required": False,
                    "description": "only these checks (comma-separated): redis, snapshot, poll_heartbeat, "
                    "source",
                    "schema": {
                        "type": "string",
                        "pattern": r"^(C)(,(C))*$".replace("C", "redis|snapshot|poll_heartbeat|source"),
                    },
                }
            ],
        ),
        "/metrics": _get(
            "Prometheus text exposition",
            {"200": _body("text/plain", "metrics"), "400": BAD_REQUEST},
        ),
        "/status": _get("The ops page", {"200": _body("text/html", "the page"), "400": BAD_REQUEST}),
        "/openapi.json": _get(
            "This document",
            {
                "200": {
                    "description": "the OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ticker",
            "version": __version__,
            "description": "Regional weather ticker: KMA surface observations as an embeddable "
            "widget and JSON. Every error answer is JSON with Cache-Control: no-store.",
        },
        "paths": paths,
        "components": {"schemas": defs["$defs"]},
    }


async def openapi_json(request: web.Request) -> web.Response:
    if request.query_string:
        raise BadRequest("this route takes no query parameters")
    body = request.app[OPENAPI_BODY]
    return web.Response(
        body=body,
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


OPENAPI_BODY = web.AppKey("openapi_body", bytes)


def setup_openapi_route(app: web.Application) -> None:
    ids = [s.id for s in app[keys.STATIONS]]
    doc = build_openapi(ids, app[keys.EMBED_SCRIPT].path)
    app[OPENAPI_BODY] = json.dumps(doc, ensure_ascii=False).encode()
    app.router.add_get("/openapi.json", openapi_json)
