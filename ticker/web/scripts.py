"""The scripts a host page loads: the script embed (plain and content-addressed for SRI)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from importlib import resources

from ticker.web.render import LIST_ROW_PX, TICKER_HEIGHT_PX

# The custom element's module; the number is the version of its attributes, parts and properties.
ELEMENT_SCRIPT_PATH = "/kma-ticker.v1.js"
PINNED_HASH_CHARS = 16  # hex digits of the SHA-384 in the pinned script's file name


def load_embed_js(station_count: int) -> bytes:
    """The script embed, with the numbers it needs to reserve its height filled in."""
    text = resources.files("ticker.web").joinpath("static/embed.js").read_text(encoding="utf-8")
    for name, value in (
        ("__TICKER_STATION_COUNT__", station_count),
        ("__TICKER_HEIGHT_PX__", TICKER_HEIGHT_PX),
        ("__TICKER_ROW_PX__", LIST_ROW_PX),
    ):
        text = text.replace(name, str(int(value)))
    return text.encode()


@dataclass(frozen=True, slots=True)
class PinnedScript:
    """The script embed at a content-addressed URL, for Subresource Integrity.

    ``<script async src="…/embed.<hash>.js" integrity="sha384-…" crossorigin="anonymous">``:
    the browser runs it only if its bytes hash to the published value, so a tampered copy on
    any cache or host in between is refused. The URL changes whenever the bytes do (another
    release, another number of stations), so the answer is cached for a year as immutable.
    """

    body: bytes
    path: str
    integrity: str


def pinned_script(body: bytes) -> PinnedScript:
    digest = hashlib.sha384(body).digest()
    return PinnedScript(
        body=body,
        path=f"/embed.{digest.hex()[:PINNED_HASH_CHARS]}.js",
        integrity="sha384-" + base64.b64encode(digest).decode("ascii"),
    )
