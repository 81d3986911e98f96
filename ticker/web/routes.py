"""Routes and handlers. They read the in-process snapshot and send bytes; nothing else."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel

from ticker.models import SIM_SOURCE, attribution
from ticker.web import keys
from ticker.web.amp import check_amp_origins
from ticker.web.answer import Answer, send
from ticker.web.errors import AmpOriginRefused, StationNotFound, too_many
from ticker.web.oembed import PAGES as OEMBED_PAGES
from ticker.web.oembed import FormatNotImplemented, NoEmbed, check_public_url
from ticker.web.oembed import document as oembed_document
from ticker.web.oembed import size as oembed_size
from ticker.web.oembed import target as oembed_target
from ticker.web.policy import Policy
from ticker.web.query import (
    AMP_PARAMS,
    DEMO_PARAMS,
    JSON_PARAMS,
    MAX_QUERY,
    NO_PARAMS,
    OEMBED_PARAMS,
    STATION_ID,
    SVG_PARAMS,
    TEXT_PARAMS,
    WIDGET_PARAMS,
    BadRequest,
    dimension,
    parse_variant,
    query_params,
)
from ticker.web.render import (
    SVG_THEMES,
    amp_document,
    render_builder,
    render_demo,
    render_frame,
    render_svg,
    render_text,
    render_widget,
)
from ticker.web.scripts import ELEMENT_SCRIPT_PATH, load_embed_js, pinned_script
from ticker.web.snapshot import LiveSnapshot, Renderer
from ticker.web.view import View, observations_document, station_json
from ticker.web.warnings_view import warnings_document

logger = logging.getLogger(__name__)


HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
JS = "text/javascript; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
SVG = "image/svg+xml; charset=utf-8"


def inert_json(doc: BaseModel) -> bytes:
    """JSON bytes that stay inert even if someone inlines them into an HTML <script> block.

    ``<``, ``>`` and ``&`` only ever occur inside strings, where their \\u escapes mean the same.
    """
    raw = doc.model_dump_json().encode()
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


Resolver = Callable[[Sequence[tuple[str, str]], Mapping[str, str]], tuple[object, Renderer]]


def _hot(live: LiveSnapshot, resolve: Resolver) -> Handler:
    """A handler that answers from the snapshot by raw path, resolving the variant on a miss."""

    async def handler(request: web.Request) -> web.Response:
        rendered = live.lookup(request.raw_path)
        if rendered is None:
            if len(request.query_string) > MAX_QUERY:
                raise BadRequest("query too long")
            key, renderer = resolve(list(request.query.items()), request.match_info)
            rendered = live.get(key, renderer, alias=request.raw_path)
        return send(request, rendered)

    return handler


def _refuse_when_spent(
    live: LiveSnapshot, resolvers: Mapping[str, Resolver]
) -> Callable[[str], Answer | None]:
    """Before routing: a request for a variant not kept, while the render budget is spent, gets
    a fixed 429 at the cost of parsing its query, so a flood of distinct variants costs little.

    Only ever refuses: anything it cannot parse, or a variant that is kept, goes on to the
    routed handlers as before (which answer it, or refuse it the same way).
    """
    retry_after = max(1, math.ceil(1 / live.budget.rate))
    model = too_many(retry_after)
    assert model.body is not None and isinstance(model.body, bytes)
    refusal = Answer.build(429, dict(model.headers), model.body)

    def miss(raw_path: str) -> Answer | None:
        budget = live.budget
        if budget.available():
            return None
        path, _, query = raw_path.partition("?")
        resolve = resolvers.get(path)
        if resolve is None or len(query) > MAX_QUERY:
            return None
        try:
            key, _ = resolve(parse_qsl(query, keep_blank_values=True), {})
        except Exception:  # whatever it is, the routed handlers answer it
            return None
        if live.is_kept(key):
            return None
        budget.refused += 1
        return refusal

    return miss


# ---------------------------------------------------------------------------------------------
# Routes


def setup_routes(app: web.Application) -> None:
    """Add every route; the default variants are registered so refreshes render them ahead."""
    settings = app[keys.SETTINGS]
    live = app[keys.LIVE]
    policy = Policy(settings)
    ids = [s.id for s in app[keys.STATIONS]]
    public_url = check_public_url(settings.public_url)
    amp_origins = check_amp_origins(settings.amp_origins)
    embed_js = load_embed_js(len(ids))
    element_script = resources.files("ticker.web").joinpath("static/kma-ticker.js").read_bytes()
    pinned = app[keys.EMBED_SCRIPT] = pinned_script(embed_js)

    def widget(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        v = parse_variant(query, allowed=WIDGET_PARAMS, station_ids=ids)

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            # A fragment is included into other pages, never shown on its own: no CSP to send.
            return render_widget(view, variant=v).encode(), HTML, policy.fragment

        return ("widget", v), render

    def frame(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        v = parse_variant(query, allowed=WIDGET_PARAMS, station_ids=ids)

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            html = render_frame(view, v, public_url=public_url)
            return html.encode(), HTML, policy.embeddable(html)

        return ("frame", v), render

    def demo(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        v = parse_variant(query, allowed=DEMO_PARAMS, station_ids=ids)

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            return render_demo(view, v, script=pinned, public_url=public_url).encode(), HTML, policy.demo

        return ("demo", v), render

    def script(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)
        return ("embed.js",), lambda view: (embed_js, JS, policy.script)

    def element_js(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)
        return ("element.js",), lambda view: (element_script, JS, policy.script)

    builder_script = resources.files("ticker.web").joinpath("static/builder.js").read_bytes()
    stations = app[keys.STATIONS]

    def builder(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)
        html = render_builder(
            stations, script=pinned, element_path=ELEMENT_SCRIPT_PATH, public_url=public_url
        )
        return ("builder",), lambda view: (html.encode(), HTML, policy.builder(html))

    def builder_js(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)
        return ("builder.js",), lambda view: (builder_script, JS, policy.script)

    def pinned_js(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)
        return ("embed.js", "pinned"), lambda view: (pinned.body, JS, policy.pinned_script)

    def text(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        v = parse_variant(query, allowed=TEXT_PARAMS, station_ids=ids)

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            return render_text(view, v).encode(), TEXT, policy.inert

        return ("widget.txt", v), render

    def picture(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        v = parse_variant(query, allowed=SVG_PARAMS, station_ids=ids)
        if v.theme not in SVG_THEMES:
            raise BadRequest(f"'theme' must be one of: {', '.join(SVG_THEMES)}")

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            return render_svg(view, v).encode(), SVG, policy.inert

        return ("widget.svg", v), render

    def amp(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        sources = [val for k, val in query if k == "__amp_source_origin"]
        if len(sources) > 1:
            raise BadRequest("repeated query parameter")
        source = sources[0] if sources else None
        v = parse_variant(
            [(k, val) for k, val in query if k != "__amp_source_origin"],
            allowed=AMP_PARAMS,
            station_ids=ids,
        )
        headers: Mapping[str, str] = policy.json
        if source is not None:
            # AMP's CORS: the page's own origin, checked against the allow-list, is echoed back.
            if source.rstrip("/").lower() not in amp_origins:
                raise AmpOriginRefused
            headers = {
                **policy.json,
                "AMP-Access-Control-Allow-Source-Origin": source,
                "Access-Control-Expose-Headers": "AMP-Access-Control-Allow-Source-Origin, ETag, Date, Age",
            }

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            return inert_json(amp_document(view, v)), JSON, headers

        return ("amp", v, source), render

    def observations(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        v = parse_variant(query, allowed=JSON_PARAMS, station_ids=ids)

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            doc = observations_document(view, v.stations)
            return inert_json(doc), JSON, policy.json

        return ("observations", v.stations), render

    def warnings(query: Sequence[tuple[str, str]], _: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            chains = [(i.station.id, i.station.warning_chain) for i in view.items]
            doc = warnings_document(
                view.now,
                view.version,
                view.warnings,
                chains,
                status=view.warnings_status,
                checked_at=view.warnings_ok_at,
                simulated=any(i.source == SIM_SOURCE for i in view.items),
            )
            return inert_json(doc), JSON, policy.json

        return ("warnings",), render

    def station(query: Sequence[tuple[str, str]], match: Mapping[str, str]) -> tuple[object, Renderer]:
        parse_variant(query, allowed=NO_PARAMS, station_ids=ids)
        raw = match["id"]
        wanted = int(raw) if STATION_ID.match(raw) else None
        if wanted is None or wanted not in ids:
            raise StationNotFound

        def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
            item = next(i for i in view.items if i.station.id == wanted)
            return inert_json(station_json(item, view.now, view.warnings_status)), JSON, policy.json

        return ("station", wanted), render

    hot: dict[str, Resolver] = {
        "/widget": widget,
        "/widget/frame": frame,
        "/embed.js": script,
        ELEMENT_SCRIPT_PATH: element_js,
        pinned.path: pinned_js,
        "/demo": demo,
        "/widget.txt": text,
        "/builder": builder,
        "/builder.js": builder_js,
        "/widget.svg": picture,
        "/v1/observations": observations,
        "/v1/warnings": warnings,
        "/v1/amp": amp,
    }
    app[keys.HOT_MISS] = _refuse_when_spent(live, hot)
    for path, resolve in hot.items():
        app.router.add_get(path, _hot(live, resolve))
        key, renderer = resolve((), {})
        live.get(key, renderer, alias=path, pin=True)
    for sid in ids:
        key, renderer = station((), {"id": str(sid)})
        live.get(key, renderer, alias=f"/v1/stations/{sid}", pin=True)
    app.router.add_get("/v1/stations/{id}", _hot(live, station))
    app.router.add_get("/oembed", _oembed(live, policy, ids, public_url))


def _oembed(live: LiveSnapshot, policy: Policy, ids: Sequence[int], public_url: str | None) -> Handler:
    """GET /oembed: the iframe for one of this service's own pages.

    The allowed origin is the configured public URL, else the origin the request came to; the
    answer is kept under that origin and the raw path together.
    """
    cache_age = max(10, int(policy.max_age))

    async def handler(request: web.Request) -> web.Response:
        origin = public_url or f"{request.scheme}://{request.host}".lower()
        alias = origin + " " + request.raw_path
        rendered = live.lookup(alias)
        if rendered is None:
            if len(request.query_string) > MAX_QUERY + 100:
                raise BadRequest("query too long")
            seen = query_params(list(request.query.items()), OEMBED_PARAMS)
            if "url" not in seen:
                raise BadRequest("'url' is required")
            answer_format = seen.get("format", "json")
            if answer_format == "xml":
                raise FormatNotImplemented  # the specification's answer to a format not offered
            if answer_format != "json":
                raise BadRequest("'format' must be json")
            maxwidth, maxheight = dimension(seen, "maxwidth"), dimension(seen, "maxheight")
            path, page_query = oembed_target(seen["url"], origin)
            try:
                variant = parse_variant(page_query, allowed=OEMBED_PAGES[path], station_ids=ids)
            except BadRequest:
                raise NoEmbed from None
            requested = len(ids) if variant.stations is None else len(variant.stations)
            width, height = oembed_size(variant, requested, maxwidth, maxheight)
            word = "Weather" if variant.lang == "en" else "날씨"

            def render(view: View) -> tuple[bytes, str, Mapping[str, str]]:
                shown = [
                    i for i in view.items if variant.stations is None or i.station.id in variant.stations
                ]
                credit = attribution((i.source for i in shown), variant.lang)
                title = f"{word} · {credit}"
                doc = oembed_document(origin, variant, width, height, title=title, cache_age=cache_age)
                return inert_json(doc), JSON, policy.json

            rendered = live.get(("oembed", origin, variant, width, height), render, alias=alias)
        return send(request, rendered)

    return handler
