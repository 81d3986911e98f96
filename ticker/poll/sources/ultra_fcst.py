"""초단기예보 (``getUltraSrtFcst``): the sky of a station's grid cell when the station reports no cloud.

Issued at HH30 for the six hours (HH+1)00 … (HH+6)00: 60 items, ten categories (LGT, PTY, RN1,
SKY, T1H, REH, UUU, VVV, VEC, WSD) × six times, as strings (real answers, see docs/weather-words.md).
The envelope, the NO_DATA answer (resultCode 03, no body) and the gateway's key errors are the
same as the nowcast's, so the nowcast client's parser reads them.

ASSUMPTION: an issue is callable from HH:45 (guides say "from :40" and "after :45").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ticker.errors import UpstreamError, UpstreamNoDataError
from ticker.models import KST
from ticker.poll.sources.http import get
from ticker.poll.sources.kma_apihub import client_timeout
from ticker.poll.sources.ultra_ncst import grid_params, key_param_for, parse_answer
from ticker.redaction import redact

NAME = "ultra_fcst"
API_NAME = "초단기예보 (VilageFcstInfoService_2.0/getUltraSrtFcst)"
HUB_PATH = "/api/typ02/openApi/VilageFcstInfoService_2.0/getUltraSrtFcst"
ISSUE_MINUTE = 30
CALLABLE_MINUTE = 45


def issue_time(now: datetime) -> datetime:
    """The newest HH30 issue that should be callable at ``now`` (KST)."""
    local = now.astimezone(KST)
    issue = local.replace(minute=ISSUE_MINUTE, second=0, microsecond=0)
    return issue if local.minute >= CALLABLE_MINUTE else issue - timedelta(hours=1)


def sky_at(items: Sequence[dict[str, Any]], now: datetime) -> tuple[int, datetime] | None:
    """SKY of the earliest forecast hour at or after the current hour (which may be absent)."""
    hour = now.astimezone(KST).replace(minute=0, second=0, microsecond=0)
    best: tuple[datetime, int] | None = None
    for item in items:
        if item.get("category") != "SKY":
            continue
        try:
            when = datetime.strptime(
                str(item.get("fcstDate", "")) + str(item.get("fcstTime", "")).zfill(4), "%Y%m%d%H%M"
            ).replace(tzinfo=KST)
            value = int(str(item.get("fcstValue", "")).strip())
        except ValueError:
            continue
        if when >= hour and (best is None or when < best[0]):
            best = (when, value)
    return None if best is None else (best[1], best[0])


def default_url(kma_base_url: str) -> str:
    return kma_base_url.rstrip("/") + HUB_PATH


class UltraFcstFeed:
    """The forecast items of one grid cell per call."""

    name = NAME
    api_name = API_NAME

    def __init__(self, *, session: aiohttp.ClientSession, auth_key: str, url: str, timeout_s: float = 10.0):
        self.session = session
        self.url = url
        self._key = auth_key
        self._key_param = key_param_for(url)
        self._timeout = client_timeout(timeout_s)
        self.where = urlsplit(url).netloc or url
        self.requests: Counter[str] = Counter()

    async def _request(self, params: dict[str, str]) -> list[dict[str, Any]]:
        self.requests[NAME] += 1
        status, content_type, body = await get(
            self.session, self.url, params, limits=self._timeout, where=self.where
        )
        try:
            return parse_answer(status, content_type, body, secrets=[self._key])
        except UpstreamError as err:
            err.args = (redact(str(err), [self._key]),)
            raise

    async def cell(self, nx: int, ny: int, issue: datetime) -> tuple[datetime, list[dict[str, Any]]]:
        """(issue time, items) of one cell; the issue before when this one is not out yet."""
        try:
            return issue, await self._request(grid_params(self._key_param, self._key, issue, nx, ny))
        except UpstreamNoDataError:
            earlier = issue - timedelta(hours=1)
            return earlier, await self._request(grid_params(self._key_param, self._key, earlier, nx, ny))
