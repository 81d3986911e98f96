"""The KMA API Hub source: ``kma_sfctm2.php`` (ASOS hourly, latest or at ``tm``).

URL building and answer classification are pure; ``_request()`` is the one place that owns the
timeout, the status mapping and the translation of errors. The key never leaves this module in
any message: URLs are redacted and aiohttp's own exception texts are not passed on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from ticker.errors import (
    ConfigError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamMaintenanceError,
    UpstreamNoDataError,
    UpstreamParseError,
    UpstreamQuotaError,
    UpstreamStatusError,
)
from ticker.models import KST, Observation, Station
from ticker.poll.resilience import RetryPolicy, retrying, within_cycle
from ticker.poll.sources.http import get, one_line
from ticker.poll.sources.kma_text import Frame, SfcRow, parse_frame
from ticker.redaction import redact
from ticker.weather import decide

if TYPE_CHECKING:
    from ticker.config import Settings

logger = logging.getLogger(__name__)

SOURCE_NAME = "kma_apihub"
SFCTM2_PATH = "/api/typ01/url/kma_sfctm2.php"
DEFAULT_TIMEOUT_S = 10.0
# Words of the Hub's 403 messages that mean the daily quota, not a missing application.
_QUOTA_WORDS = ("한도", "초과", "quota", "limit")


def sfctm2_params(station_ids: Sequence[int], auth_key: str, tm: datetime | None = None) -> dict[str, str]:
    """Query of one sfctm2 call: latest rows, or the rows of ``tm`` (KST) for a backfill."""
    params: dict[str, str] = {}
    if tm is not None:
        params["tm"] = tm.astimezone(KST).strftime("%Y%m%d%H%M")
    params["stn"] = ":".join(str(i) for i in station_ids)
    params["help"] = "0"
    params["authKey"] = auth_key
    return params


def client_timeout(read_s: float) -> aiohttp.ClientTimeout:
    """A per-request timeout with every phase bounded, not only the total."""
    return aiohttp.ClientTimeout(total=read_s * 2 + 3, sock_connect=min(3.0, read_s), sock_read=read_s)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp949", errors="replace")


def _hub_message(body: bytes) -> tuple[int | None, str] | None:
    """The Hub's JSON error answer ``{"result": {"status": 401, "message": "..."}}``, if it is one."""
    text = _decode(body).strip()
    if not text.startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    result = doc.get("result") if isinstance(doc, dict) else None
    if not isinstance(result, dict):
        return None
    status = result.get("status")
    message = result.get("message")
    return (
        int(status) if isinstance(status, int | str) and str(status).isdigit() else None,
        str(message) if message is not None else "",
    )


def _looks_like_html(content_type: str, body: bytes) -> bool:
    # Maintenance and gateway pages are HTML (or XML) whatever their Content-Type says.
    return content_type == "text/html" or body.lstrip().startswith(b"<")


def classify(
    status: int, content_type: str, body: bytes, *, secrets: Sequence[str] = ()
) -> UpstreamError | None:
    """The error an answer stands for, or None when it should be a data frame."""
    hub = _hub_message(body)
    if hub is not None:
        code, message = hub
        code = code if code is not None and code != 200 else status
        text = one_line(redact(f"HTTP {code}: {message or 'no message'}", secrets))
        if code == 401:
            return UpstreamAuthError(f"key rejected ({text})", status=code)
        if code == 429 or (code == 403 and any(w in message.lower() for w in _QUOTA_WORDS)):
            return UpstreamQuotaError(f"quota exceeded ({text})", status=code)
        if code == 403:
            return UpstreamForbiddenError(f"API not allowed for this key ({text})", status=code)
        return UpstreamStatusError(f"unexpected answer ({text})", status=code)
    if status == 401:
        return UpstreamAuthError(f"key rejected (HTTP {status})", status=status)
    if status == 429:
        return UpstreamQuotaError(f"quota exceeded (HTTP {status})", status=status)
    if status == 403:
        return UpstreamForbiddenError(f"forbidden (HTTP {status})", status=status)
    if _looks_like_html(content_type, body):
        return UpstreamMaintenanceError(f"HTML page instead of data (HTTP {status})", status=status)
    if status != 200:
        return UpstreamStatusError(f"unexpected HTTP {status}", status=status)
    return None


def to_observation(row: SfcRow, fetched_at: datetime, source: str = SOURCE_NAME) -> Observation:
    """An observation from one parsed row, with the word the row alone supports (WC, CA_TOT)."""
    word = decide(
        wc=row.present_weather,
        ca_tot=row.cloud_tenths,
        ta=row.temperature_c,
        observed_at=row.observed_at,
    )
    return Observation(
        station_id=row.station_id,
        observed_at=row.observed_at,
        fetched_at=fetched_at,
        source=source,
        temperature_c=row.temperature_c,
        condition=word.condition if word else None,
        condition_source=word.source.value if word else None,
        condition_at=word.at if word else None,
        present_weather=row.present_weather,
        cloud_tenths=row.cloud_tenths,
        humidity_pct=row.humidity_pct,
        wind_speed_ms=row.wind_speed_ms,
        wind_dir_deg=row.wind_dir_deg,
        precipitation_mm=row.precipitation_mm,
    )


class KmaApiHubSource:
    """ASOS hourly observations from the API Hub."""

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        auth_key: str,
        base_url: str = "https://apihub.kma.go.kr",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._key = auth_key
        self.timeout_s = timeout_s
        self._timeout = client_timeout(timeout_s)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        parts = urlsplit(self.base_url)
        self.where = parts.netloc or self.base_url
        self._last_dropped: tuple[str, ...] = ()
        self.requests: Counter[str] = Counter()  # per endpoint, drained by the poller

    @classmethod
    def from_settings(cls, settings: Settings, session: aiohttp.ClientSession) -> KmaApiHubSource:
        """The source as configured: base URL, key, timeout and retries."""
        if settings.kma_auth_key is None:
            msg = "TICKER_SOURCE=kma_apihub needs TICKER_KMA_AUTH_KEY"
            raise ConfigError(msg)
        return cls(
            session=session,
            auth_key=settings.kma_auth_key.get_secret_value(),
            base_url=settings.kma_base_url,
            timeout_s=settings.kma_timeout_s,
            retry=RetryPolicy(attempts=settings.kma_retries + 1, budget_s=settings.kma_cycle_budget_s),
        )

    def redacted_url(self, path: str, params: dict[str, str]) -> str:
        """The request URL as it may be printed: the key replaced by ***."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return redact(f"{self.base_url}{path}?{query}", [self._key])

    async def _request(self, path: str, params: dict[str, str]) -> bytes:
        """One GET: bounded in time and size, every failure translated into an UpstreamError."""
        self.requests["sfctm2"] += 1
        status, content_type, body = await get(
            self.session, self.base_url + path, params, limits=self._timeout, where=self.where
        )
        error = classify(status, content_type, body, secrets=[self._key])
        if error is not None:
            raise error
        return body

    async def _frame(self, params: dict[str, str]) -> Frame:
        body = await self._request(SFCTM2_PATH, params)
        frame = parse_frame(body)
        self._note_dropped(frame)
        if not frame.rows:
            if frame.dropped:
                first = frame.dropped[0]
                msg = f"no usable row: {len(frame.dropped)} dropped (line {first.line_no}: {first.reason})"
                raise UpstreamParseError(msg)
            msg = "empty frame: no rows for the stations asked"
            raise UpstreamNoDataError(msg)
        return frame

    def _note_dropped(self, frame: Frame) -> None:
        reasons = tuple(sorted({d.reason for d in frame.dropped}))
        if reasons and reasons != self._last_dropped:
            logger.warning(
                "%s: dropped %d malformed row(s): %s",
                self.name,
                len(frame.dropped),
                "; ".join(reasons),
            )
        self._last_dropped = reasons

    async def frame(self, station_ids: Sequence[int], tm: datetime | None = None) -> Frame:
        """The parsed frame for these stations, with retries inside the cycle budget."""
        params = sfctm2_params(station_ids, self._key, tm)
        return await retrying(lambda: self._frame(params), self.retry, what=self.name, sleep=self._sleep)

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        """Latest rows; stations missing from them are asked again for the previous hour."""
        ids = [s.id for s in stations]
        frame = await self.frame(ids)
        rows = list(frame.rows)
        seen = {r.station_id for r in rows}
        missing = [i for i in ids if i not in seen]
        if missing:
            rows += await self._backfill(missing, rows, now)
        return [to_observation(r, now) for r in rows]

    async def _backfill(self, missing: list[int], rows: list[SfcRow], now: datetime) -> list[SfcRow]:
        """Rows of the hour before the latest one, for stations the latest answer left out."""
        latest = max((r.observed_at for r in rows), default=None)
        hour = (latest or now.astimezone(KST)).replace(minute=0, second=0, microsecond=0)
        try:
            # One attempt only: this is a bonus on top of an answer that already succeeded.
            params = sfctm2_params(missing, self._key, hour - timedelta(hours=1))
            frame = await within_cycle(self._frame(params), f"{self.name} backfill")
        except UpstreamError as err:
            logger.debug("%s: backfill for %s failed: %s", self.name, missing, err)
            return []
        return [r for r in frame.rows if r.station_id in set(missing)]

    async def close(self) -> None:
        return None
