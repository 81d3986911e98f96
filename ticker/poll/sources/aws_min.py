"""AWS minute data (``nph-aws2_min``): is it precipitating at the station now, and how warm is it.

The answer is a ``#START7777`` … ``#7777END`` frame like the hourly table's, with ``#`` legend
lines (EUC-KR) and one row per station: ``YYYYMMDDHHMI STN WD1 WS1 WDS WSS WD10 WS10 TA RE RN-15m
RN-60m RN-12H RN-DAY HM PA PS TD``. Read by position, never by the header's names: KMA's legend
misprinted ``WS10 WS10`` until 2023. ``disp=0`` rows are fixed width (the form seen in a real 2026
answer); ``disp=1`` rows are comma separated and end in ``,=`` (seen only in other projects' test
fixtures); both are accepted. Values of -50 and less are missing (-99.9, -99.7, -999.0, …).

ASSUMPTION: the Hub is asked with ``stn=0`` (every station; the 2026 answer shows it works) and the
stations filtered here: KMA's help names one station id for ``stn``, and a ``:`` list is unconfirmed.
ASSUMPTION: a minute is available 1-3 minutes after it ends (clients ask for now - 2 or 3 minutes).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp

from ticker.errors import UpstreamNoDataError, UpstreamParseError
from ticker.models import KST
from ticker.poll.resilience import RetryPolicy, retrying
from ticker.poll.sources.http import get
from ticker.poll.sources.kma_apihub import classify, client_timeout
from ticker.weather import SensorReading

NAME = "aws_min"
API_NAME = "AWS 매분자료 (nph-aws2_min)"
PATH = "/api/typ01/cgi-bin/url/nph-aws2_min"
START, END = "#START7777", "#7777END"
FIELDS = 18  # TM STN WD1 WS1 WDS WSS WD10 WS10 TA RE RN-15m RN-60m RN-12H RN-DAY HM PA PS TD
TA, RE, RN15, RN60 = 8, 9, 10, 11
MISSING_AT_OR_BELOW = -50.0
# How long after a minute ends it is asked for (ASSUMPTION, see above).
LAG = timedelta(minutes=2)
# A reading older than this says nothing about "now": RN-15m covers the last 15 minutes.
VALID_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class MinuteRow:
    """The columns of one station's minute that the weather word uses; None where missing."""

    station_id: int
    at: datetime
    temperature_c: float | None
    detector: float | None  # RE: 0 dry, non-zero precipitation
    rain_15m: float | None
    rain_60m: float | None

    @property
    def precipitating(self) -> bool | None:
        """RE != 0 or RN-15m > 0; None when neither is known."""
        if self.detector is not None and self.detector != 0:
            return True
        if self.rain_15m is not None and self.rain_15m > 0:
            return True
        if self.detector is None and self.rain_15m is None:
            return None
        return False

    def reading(self) -> SensorReading:
        return SensorReading(self.precipitating, self.temperature_c, self.at)


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return None if value <= MISSING_AT_OR_BELOW else value


def parse_line(line: str) -> MinuteRow | None:
    """One data line, fixed width or comma separated; None when it is not a usable row."""
    if "," in line:
        tokens = [t.strip() for t in line.split(",")]
        while tokens and tokens[-1] in ("=", ""):
            tokens.pop()
    else:
        tokens = line.split()
    if len(tokens) < FIELDS or len(tokens[0]) != 12 or not tokens[0].isdigit() or not tokens[1].isdigit():
        return None
    try:
        at = datetime.strptime(tokens[0], "%Y%m%d%H%M").replace(tzinfo=KST)
    except ValueError:
        return None
    ta = _number(tokens[TA])
    return MinuteRow(
        station_id=int(tokens[1]),
        at=at,
        temperature_c=ta,
        detector=_number(tokens[RE]),
        rain_15m=_number(tokens[RN15]),
        rain_60m=_number(tokens[RN60]),
    )


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp949", errors="replace")


def parse_frame(body: bytes) -> list[MinuteRow]:
    """Every usable row of a complete frame; a frame that is not whole is rejected."""
    text = decode(body)
    lines = text.replace("\r\n", "\n").split("\n")
    stripped = [ln.strip() for ln in lines if ln.strip()]
    if not stripped or stripped[0] != START or stripped[-1] != END:
        if "지점목록에 없습니다" in text:  # an unknown station id, answered as plain text
            raise UpstreamNoDataError("no such AWS station")
        msg = "not a complete #START7777 ... #7777END frame"
        raise UpstreamParseError(msg)
    rows = [parse_line(ln) for ln in stripped[1:-1] if not ln.startswith("#")]
    return [r for r in rows if r is not None]


def minute_params(auth_key: str, now: datetime) -> dict[str, str]:
    """The newest minute that should be out at ``now``, for every station, fixed width."""
    tm2 = (now.astimezone(KST) - LAG).replace(second=0, microsecond=0)
    return {"tm2": tm2.strftime("%Y%m%d%H%M"), "stn": "0", "disp": "0", "help": "0", "authKey": auth_key}


class AwsMinuteFeed:
    """One request per call for every station's newest minute; rows of the stations asked."""

    name = NAME
    api_name = API_NAME

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        auth_key: str,
        base_url: str,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.url = base_url.rstrip("/") + PATH
        self._key = auth_key
        self._timeout = client_timeout(timeout_s)
        self.retry = retry or RetryPolicy(attempts=2, budget_s=20.0)
        self._sleep = sleep
        self.where = urlsplit(self.url).netloc or self.url
        self.requests: Counter[str] = Counter()

    async def _once(self, params: dict[str, str]) -> list[MinuteRow]:
        self.requests[NAME] += 1
        status, content_type, body = await get(
            self.session, self.url, params, limits=self._timeout, where=self.where
        )
        error = classify(status, content_type, body, secrets=[self._key])
        if error is not None:
            raise error
        return parse_frame(body)

    async def readings(self, station_ids: Iterable[int], now: datetime) -> dict[int, SensorReading]:
        """The newest reading of each station asked that has one; raises an UpstreamError."""
        params = minute_params(self._key, now)
        rows = await retrying(lambda: self._once(params), self.retry, what=NAME, sleep=self._sleep)
        wanted = set(station_ids)
        out: dict[int, SensorReading] = {}
        for row in rows:
            if row.station_id in wanted:
                current = out.get(row.station_id)
                if current is None or row.at > current.at:
                    out[row.station_id] = row.reading()
        return out
