"""oEmbed (https://oembed.com/): a CMS that takes a URL gets the ticker's iframe for it.

Only this service's own pages are answered for: the ``url`` is parsed, never fetched, and
the answer's iframe points at this service's ``/widget/frame`` with the variant the page's
query named. Nothing here redirects.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel

from ticker.errors import ConfigError
from ticker.web.amp import ORIGIN
from ticker.web.query import DEMO_PARAMS, WIDGET_PARAMS
from ticker.web.render import Variant, reserved_height, variant_query

PROVIDER_NAME = "ticker"
DEFAULT_WIDTH = 640
MIN_WIDTH = 200  # narrower than this the strip cannot show a station
MAX_WIDTH = 1920
MAX_URL = 300
# The pages an oEmbed url may name, and the query parameters each takes.
PAGES = {"/widget/frame": WIDGET_PARAMS, "/widget": WIDGET_PARAMS, "/demo": DEMO_PARAMS}


class OEmbedDocument(BaseModel):
    """An oEmbed 1.0 answer of type "rich" (section 2.3.4 of the specification)."""

    type: str = "rich"
    version: str = "1.0"
    html: str
    width: int
    height: int
    title: str
    provider_name: str = PROVIDER_NAME
    provider_url: str
    cache_age: int


class NoEmbed(Exception):
    """The url is not one of this service's pages, or nothing fits the size asked (404)."""


class FormatNotImplemented(Exception):
    """A format other than JSON was asked for (501, as the specification says)."""


def check_public_url(value: str | None) -> str | None:
    """The configured public origin without a trailing slash, or ConfigError."""
    if value is None:
        return None
    origin = value.rstrip("/")
    if not ORIGIN.match(origin):
        msg = "TICKER_PUBLIC_URL: expected an origin such as 'https://ticker.example' (no path)"
        raise ConfigError(msg)
    return origin.lower()


def target(url: str, allowed_origin: str) -> tuple[str, Sequence[tuple[str, str]]]:
    """The page path and its query pairs, if ``url`` is one of this service's pages; else NoEmbed.

    ``url`` is absolute on ``allowed_origin``, or a path on it (``/widget/frame?lang=en``).
    """
    if len(url) > MAX_URL or any(c in url for c in "\\\r\n\t "):
        raise NoEmbed
    if url.startswith("/") and not url.startswith("//"):
        url = allowed_origin + url  # a path on this service
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme not in ("http", "https") or parts.username or parts.password or parts.fragment:
        raise NoEmbed
    if origin != allowed_origin or parts.path not in PAGES:
        raise NoEmbed
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise NoEmbed from None
    return parts.path, pairs


def size(variant: Variant, requested: int, maxwidth: int | None, maxheight: int | None) -> tuple[int, int]:
    """Width and height of the iframe, within the consumer's limits, or NoEmbed if none fits."""
    width = min(DEFAULT_WIDTH if maxwidth is None else maxwidth, MAX_WIDTH)
    height = reserved_height(variant.layout, requested)
    if width < MIN_WIDTH or (maxheight is not None and height > maxheight):
        raise NoEmbed
    return width, height


def document(
    origin: str, variant: Variant, width: int, height: int, *, title: str, cache_age: int
) -> OEmbedDocument:
    """The answer: an iframe of the frame page with the variant, at the given size."""
    src = escape(f"{origin}/widget/frame{variant_query(variant)}")
    title = escape(title)
    html = (
        f'<iframe src="{src}" width="{width}" height="{height}" '
        f'style="width:100%;max-width:{width}px;height:{height}px;border:0" '
        f'title="{title}" sandbox="allow-popups" loading="lazy"></iframe>'
    )
    return OEmbedDocument(
        html=html, width=width, height=height, title=title, provider_url=origin + "/", cache_age=cache_age
    )
