"""AMP: the JSON an amp-list on an AMP page renders with amp-mustache, and who may read it.

AMP's CORS protocol: the AMP runtime adds ``__amp_source_origin`` (the page's origin) to the
request; the answer names it in ``AMP-Access-Control-Allow-Source-Origin``, and only for the
origins TICKER_AMP_ORIGINS lists.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from ticker.errors import ConfigError

ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", re.IGNORECASE)  # an origin: scheme, host, port


class AmpWarning(BaseModel):
    """One weather warning in effect on a station's region, as its badge shows it."""

    label: str  # 폭염경보, 강풍 예비특보 (or the English)
    rank: int  # 0 preliminary .. 3 severe: the template's badge class kt-w{{rank}}
    period: str | None  # when a preliminary warning is expected ("21일 오후"), else null


class AmpStation(BaseModel):
    """One station as the amp-mustache template shows it."""

    id: int
    condition: str | None
    word: str | None
    name: str
    temperature: str | None
    late: str | None  # "14:00 관측" when the value is late, else null
    warnings: list[AmpWarning]  # highest level first; empty when none is in effect


class AmpItem(BaseModel):
    """The whole strip: the date line, the stations and the attribution."""

    date: str
    attribution: str
    text: str
    warning_summary: str | None  # "기상특보 3곳" when a warning is in effect anywhere, else null
    stations: list[AmpStation]


class AmpDocument(BaseModel):
    """What GET /v1/amp answers: amp-list's default ``items`` array, with one item."""

    items: list[AmpItem]


def check_amp_origins(value: str) -> frozenset[str]:
    """The configured AMP source origins, or ConfigError."""
    origins = [v.strip().rstrip("/").lower() for v in re.split(r"[\s,]+", value) if v.strip()]
    if any(not ORIGIN.match(o) for o in origins):
        msg = "TICKER_AMP_ORIGINS: expected origins such as 'https://news.example', separated by spaces"
        raise ConfigError(msg)
    return frozenset(origins)
