"""The weather-warnings feed: the API Hub's ``wrn_now_data.php`` (특보현황 조회), and simulated warnings.

Answers are classified like every Hub answer (``kma_apihub.classify``); a 403 for an API that
was not applied for names this one, so the operator knows which application is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import aiohttp

from ticker.errors import UpstreamForbiddenError
from ticker.models import KST, Station
from ticker.poll.resilience import RetryPolicy, retrying
from ticker.poll.sources.http import get
from ticker.poll.sources.kma_apihub import classify, client_timeout
from ticker.poll.sources.wrn_text import in_effect, parse_wrn_now
from ticker.regions import packaged_regions
from ticker.wrn import WeatherWarning

if TYPE_CHECKING:
    from ticker.config import Settings

logger = logging.getLogger(__name__)

SOURCE_NAME = "kma_warnings"
WRN_NOW_PATH = "/api/typ01/url/wrn_now_data.php"
API_TITLE = "특보현황 조회 (wrn_now_data.php)"


class WarningsSource(Protocol):
    """What the warnings poller needs: the warnings in effect now, or an UpstreamError."""

    name: str

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[WeatherWarning]: ...


def relevant(warnings: Sequence[WeatherWarning], stations: Sequence[Station]) -> list[WeatherWarning]:
    """Only the warnings on a configured station's region or a region above it."""
    regions = {r for s in stations for r in s.warning_chain}
    return [w for w in warnings if w.region_id in regions]


def wrn_now_params(auth_key: str) -> dict[str, str]:
    return {"fe": "f", "tm": "", "disp": "0", "help": "1", "authKey": auth_key}


class KmaWarningsSource:
    """Warnings in effect, from the API Hub."""

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        auth_key: str,
        base_url: str = "https://apihub.kma.go.kr",
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._key = auth_key
        self._timeout = client_timeout(timeout_s)
        self.retry = retry or RetryPolicy()
        self.where = urlsplit(self.base_url).netloc or self.base_url
        self._last_dropped: tuple[str, ...] = ()

    async def _once(self) -> bytes:
        status, content_type, body = await get(
            self.session,
            self.base_url + WRN_NOW_PATH,
            wrn_now_params(self._key),
            limits=self._timeout,
            where=self.where,
        )
        error = classify(status, content_type, body, secrets=[self._key])
        if isinstance(error, UpstreamForbiddenError):
            msg = f"apply for the API Hub's {API_TITLE} for this key: {error}"
            raise UpstreamForbiddenError(msg, status=error.status)
        if error is not None:
            raise error
        return body

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[WeatherWarning]:
        body = await retrying(self._once, self.retry, what=self.name)
        frame = parse_wrn_now(body)
        reasons = tuple(sorted({why for _, why in frame.dropped}))
        if reasons and reasons != self._last_dropped:
            logger.warning(
                "%s: dropped %d unreadable row(s): %s", self.name, len(frame.dropped), "; ".join(reasons)
            )
        self._last_dropped = reasons
        return relevant(in_effect(frame.rows), stations)


def build_warnings_source(settings: Settings, session: aiohttp.ClientSession) -> WarningsSource:
    """The Hub's feed when the Hub is the source; simulated warnings with the sim source."""
    if settings.warnings_source == "sim_warnings" or settings.kma_auth_key is None:
        return SimWarningsSource()
    return KmaWarningsSource(
        session=session,
        auth_key=settings.kma_auth_key.get_secret_value(),
        base_url=settings.kma_base_url,
        timeout_s=settings.kma_timeout_s,
        retry=RetryPolicy(attempts=settings.kma_retries + 1, budget_s=settings.kma_cycle_budget_s),
    )


class SimWarningsSource:
    """Occasional plausible warnings for the sim run, a pure function of the KST day.

    Summer days bring 폭염 (heat) advisories and warnings, winter days 한파 (cold) or 대설 (snow),
    and some days a 강풍 (wind) preliminary warning for the next afternoon; most days are quiet.
    """

    name = "sim_warnings"

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[WeatherWarning]:
        return relevant(simulated(stations, now), stations)


def _unit(*parts: object) -> float:
    import hashlib

    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def simulated(stations: Sequence[Station], now: datetime) -> list[WeatherWarning]:
    """The simulated warnings in effect at ``now``."""
    local = now.astimezone(KST)
    day = local.date()
    issued = datetime(day.year, day.month, day.day, 10, tzinfo=KST)
    if local < issued:
        return []
    kind = "폭염" if local.month in (6, 7, 8, 9) else "한파" if local.month in (12, 1, 2) else "강풍"
    regions = packaged_regions()
    out: list[WeatherWarning] = []
    for station in stations:
        if not station.warning_region:
            continue
        chance = _unit("sim-warning", station.id, day.isoformat())
        if chance > 0.3:
            continue
        row = regions.valid(station.warning_region, now)
        name = row.name if row else station.warning_region
        if kind == "강풍":
            period = (issued + timedelta(days=1)).strftime("%Y%m%d") + "1758"
            level, effective, code = "예비", None, period
        else:
            level, effective, code = ("경보" if chance < 0.1 else "주의"), issued, None
        out.append(
            WeatherWarning(
                kind=kind,
                level=level,
                region_id=station.warning_region,
                region_name=name,
                issued_at=issued,
                effective_at=effective,
                period_code=code,
                command="발표",
            )
        )
    return out
