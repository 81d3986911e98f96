"""초단기예보 (``getUltraSrtFcst``): the sky of a station's grid cell when the station reports no cloud.

Issued at HH30 for the six hours (HH+1)00 … (HH+6)00: 60 items, ten categories (LGT, PTY, RN1,
SKY, T1H, REH, UUU, VVV, VEC, WSD) × six times, as strings (real answers, see docs/weather-words.md).
The envelope, the NO_DATA answer (resultCode 03, no body) and the gateway's key errors are the
same as the nowcast's, so the nowcast client's parser reads them.

ASSUMPTION: an issue is callable from HH:45 (guides say "from :40" and "after :45").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ticker.models import KST
from ticker.poll.sources.ultra_ncst import GridClient

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


class UltraFcstFeed(GridClient):
    """The forecast items of one grid cell per call."""

    name = NAME
    api_name = API_NAME

    async def cell(self, nx: int, ny: int, issue: datetime) -> tuple[datetime, list[dict[str, Any]]]:
        """(issue time, items) of one cell; the issue before when this one is not out yet."""
        return await self.issue_items(nx, ny, issue)
