"""The query allow-list: each route's parameters, checked and normalised; anything else is refused.

A request's query either becomes a ``Variant`` (or a plain mapping, for ``/oembed``) or raises
``BadRequest``, whose message never echoes the input.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from ticker.web.render import DEFAULT_VARIANT, ICONS, LANGS, LAYOUTS, THEMES, Variant

MAX_QUERY = 300  # characters; every allowed query fits easily
STATION_ID = re.compile(r"^[1-9][0-9]{0,2}$")
_STATION_LIST = re.compile(r"^[0-9]{1,3}(,[0-9]{1,3}){0,63}$")

WIDGET_PARAMS = frozenset({"lang", "theme", "layout", "icons", "stations"})
DEMO_PARAMS = frozenset({"lang", "theme", "layout", "icons"})
JSON_PARAMS = frozenset({"stations"})
TEXT_PARAMS = frozenset({"lang", "stations"})
SVG_PARAMS = frozenset({"lang", "theme", "stations"})
NO_PARAMS: frozenset[str] = frozenset()
AMP_PARAMS = frozenset({"lang", "stations", "__amp_source_origin"})
OEMBED_PARAMS = frozenset({"url", "format", "maxwidth", "maxheight"})
_DIMENSION = re.compile(r"^[1-9][0-9]{0,4}$")


class BadRequest(Exception):
    """A query the service does not accept; the message never echoes the input."""


def parse_variant(
    query: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    allowed: Collection[str],
    station_ids: Sequence[int],
) -> Variant:
    """A normalised variant, or BadRequest for an unknown, repeated or out-of-list parameter."""
    seen = query_params(query, allowed)
    return Variant(
        lang=_choice(seen, "lang", LANGS),
        theme=_choice(seen, "theme", THEMES),
        layout=_choice(seen, "layout", LAYOUTS),
        stations=_stations(seen.get("stations"), station_ids),
        icons=_choice(seen, "icons", ICONS),
    )


def query_params(
    query: Mapping[str, str] | Sequence[tuple[str, str]], allowed: Collection[str]
) -> dict[str, str]:
    """The query as a mapping, or BadRequest for an unknown or repeated parameter."""
    seen: dict[str, str] = {}
    items = query.items() if isinstance(query, Mapping) else query
    for name, value in items:
        if name not in allowed:
            raise BadRequest("unknown query parameter")
        if name in seen:
            raise BadRequest("repeated query parameter")
        seen[name] = value
    return seen


def dimension(seen: Mapping[str, str], name: str) -> int | None:
    value = seen.get(name)
    if value is None:
        return None
    if not _DIMENSION.match(value):
        raise BadRequest(f"'{name}' must be a positive whole number of pixels")
    return int(value)


def _choice(seen: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = seen.get(name)
    if value is None:
        return str(getattr(DEFAULT_VARIANT, name))
    if value not in choices:
        raise BadRequest(f"'{name}' must be one of: {', '.join(choices)}")
    return value


def _stations(raw: str | None, configured: Sequence[int]) -> tuple[int, ...] | None:
    if raw is None:
        return None
    if not _STATION_LIST.match(raw):
        raise BadRequest("'stations' must be comma-separated station ids")
    wanted = [int(part) for part in raw.split(",")]
    known = set(configured)
    if any(sid not in known for sid in wanted):
        raise BadRequest("'stations' names a station that is not configured")
    chosen = set(wanted)  # a station named twice is still one station
    if len(chosen) == len(known):
        return None  # all of them: the same variant as no parameter
    return tuple(sid for sid in configured if sid in chosen)  # configured order, always
