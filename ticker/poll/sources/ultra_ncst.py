"""초단기실황 (``getUltraSrtNcst``): the grid-cell nowcast used for stations whose ASOS row is missing.

The answer is the data.go.kr JSON envelope; key and quota rejections come from a gateway as XML
even when JSON was asked (or as JSON of another shape), with HTTP 200 or 403, so the answer is
classified by its content first and its status second. It carries temperature, precipitation
type and amount, humidity and wind, but no cloud cover: without precipitation there is no word.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ticker.errors import (
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
from ticker.poll.sources.http import get, one_line
from ticker.poll.sources.kma_apihub import classify as classify_hub
from ticker.poll.sources.kma_apihub import client_timeout
from ticker.poll.sources.kma_text import (
    MISSING_AT_OR_ABOVE,
    NUMBER,
    TEMPERATURE_MISSING_AT_OR_BELOW,
)
from ticker.redaction import redact
from ticker.weather import PTY_WORDS, ConditionSource

logger = logging.getLogger(__name__)

SOURCE_NAME = "ultra_ncst"
HUB_PATH = "/api/typ02/openApi/VilageFcstInfoService_2.0/getUltraSrtNcst"
# Guides disagree on when the hour's nowcast is published (:10 or :40); take the safe one.
PUBLISH_MINUTE = 40
MAX_CONCURRENT = 8

# data.go.kr result and gateway reason codes -> error class (FORMATS.md §2.4).
_NO_DATA = {"03"}
_QUOTA = {"22"}
_AUTH = {"21", "30", "31", "33"}
_FORBIDDEN = {"12", "20", "32"}
_XML_CODE = re.compile(r"<(returnReasonCode|resultCode)>\s*(\d+)\s*</\1>")
_XML_MSG = re.compile(r"<(returnAuthMsg|resultMsg)>\s*([^<]{0,120})</\1>")


def base_time(now: datetime) -> datetime:
    """The newest hour whose nowcast should be published at ``now`` (KST)."""
    local = now.astimezone(KST)
    hour = local.replace(minute=0, second=0, microsecond=0)
    return hour if local.minute >= PUBLISH_MINUTE else hour - timedelta(hours=1)


def grid_params(key_param: str, key: str, base: datetime, nx: int, ny: int) -> dict[str, str]:
    """The query of a VilageFcstInfoService call for one grid cell and base time (nowcast or forecast)."""
    local = base.astimezone(KST)
    return {
        key_param: key,
        "pageNo": "1",
        "numOfRows": "100",  # every item of an issue in one page: 60 today (the forecast), 8 (the nowcast)
        "dataType": "JSON",
        "base_date": local.strftime("%Y%m%d"),
        "base_time": local.strftime("%H%M"),
        "nx": str(nx),
        "ny": str(ny),
    }


def _coded_error(code: str, message: str, status: int) -> UpstreamError:
    text = one_line(f"resultCode {code}: {message}")
    if code in _NO_DATA:
        return UpstreamNoDataError(f"no data yet ({text})", status=status)
    if code in _QUOTA:
        return UpstreamQuotaError(f"quota exceeded ({text})", status=status)
    if code in _AUTH:
        return UpstreamAuthError(f"key rejected ({text})", status=status)
    if code == "12":  # NO_OPENAPI_SERVICE_ERROR: no such service at this path (or retired)
        return UpstreamForbiddenError(f"no such service at this URL ({text}): check the URL", status=status)
    if code in _FORBIDDEN:
        return UpstreamForbiddenError(f"service not allowed for this key ({text})", status=status)
    return UpstreamStatusError(f"service error ({text})", status=status)


def _items(doc: Any, status: int) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("OpenAPI_ServiceResponse"), dict):
        header = doc["OpenAPI_ServiceResponse"].get("cmmMsgHeader") or {}
        code = str(header.get("returnReasonCode", "99")).zfill(2)
        raise _coded_error(code, str(header.get("returnAuthMsg", "")), status)
    response = doc.get("response") if isinstance(doc, dict) else None
    if response is None and isinstance(doc, dict) and "header" in doc:
        response = doc  # an error answer seen without the "response" wrapper
    header = response.get("header") if isinstance(response, dict) else None
    if not isinstance(header, dict):
        raise UpstreamParseError("JSON without a response header", status=status)
    code = str(header.get("resultCode", "")).zfill(2)
    if code != "00":
        raise _coded_error(code, str(header.get("resultMsg", "")), status)
    body = response.get("body") if isinstance(response, dict) else None
    items = body.get("items") if isinstance(body, dict) else None
    item = items.get("item") if isinstance(items, dict) else None
    if isinstance(item, dict):
        item = [item]  # one row comes as an object
    if not isinstance(item, list) or not item:
        raise UpstreamNoDataError("an empty item list", status=status)
    return [i for i in item if isinstance(i, dict)]


def _xml_items(text: str, status: int) -> list[dict[str, Any]]:
    """The items of a successful answer in XML (the service's default when dataType is not honoured).

    Each ``<item>``'s child elements become a dict of strings, as the JSON answer's items are read.
    ElementTree resolves no external entities; the body is bounded by the HTTP client's limit.
    """
    try:
        root = ET.fromstring(text)  # noqa: S314 - see the docstring
    except ET.ParseError as err:
        raise UpstreamParseError(f"XML answer that does not parse ({err})", status=status) from err
    items = [{child.tag: (child.text or "").strip() for child in item} for item in root.iter("item")]
    if not items:
        raise UpstreamNoDataError("an empty item list", status=status)
    return items


def parse_answer(
    status: int, content_type: str, body: bytes, *, secrets: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The items of an answer, or the UpstreamError it stands for."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "result" in doc:
            hub = classify_hub(status, content_type, body, secrets=secrets)
            if hub is not None:
                raise hub
        if doc is not None:
            return _items(doc, status)
    code = _XML_CODE.search(text)
    if code is not None and code.group(2).zfill(2) == "00" and "<response" in text:
        return _xml_items(text, status)
    if code is not None:
        msg = _XML_MSG.search(text)
        raise _coded_error(code.group(2).zfill(2), msg.group(2) if msg else "", status)
    if text.startswith("<"):
        raise UpstreamMaintenanceError(f"HTML page instead of data (HTTP {status})", status=status)
    hub = classify_hub(status, content_type, body, secrets=secrets)
    if hub is not None:
        raise hub
    raise UpstreamParseError(f"neither JSON nor a known error answer (HTTP {status})", status=status)


def value_of(items: Sequence[dict[str, Any]], category: str) -> float | None:
    for item in items:
        if item.get("category") == category:
            raw = str(item.get("obsrValue", "")).strip()
            if raw in ("강수없음", ""):
                return 0.0 if category == "RN1" and raw else None
            if not NUMBER.match(raw):
                return None
            value = float(raw)
            # The KMA guide: values of 900 and more, or -900 and less, are missing.
            return None if abs(value) >= MISSING_AT_OR_ABOVE else value
    return None


def to_observation(items: Sequence[dict[str, Any]], station: Station, fetched_at: datetime) -> Observation:
    """An observation for a station from its grid cell's nowcast items."""
    first = items[0]
    try:
        stamp = str(first.get("baseDate", "")) + str(first.get("baseTime", "")).zfill(4)
        observed_at = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=KST)
    except ValueError as err:
        msg = "nowcast without a valid baseDate/baseTime"
        raise UpstreamParseError(msg) from err
    ta = value_of(items, "T1H")
    if ta is not None and ta <= TEMPERATURE_MISSING_AT_OR_BELOW:
        ta = None
    pty = value_of(items, "PTY")
    word = PTY_WORDS.get(int(pty)) if pty is not None and pty == int(pty) else None
    rn1 = value_of(items, "RN1")
    vec = value_of(items, "VEC")
    return Observation(
        station_id=station.id,
        observed_at=observed_at,
        fetched_at=fetched_at,
        source=SOURCE_NAME,
        temperature_c=ta,
        condition=word,
        condition_source=ConditionSource.ANALYSIS.value if word is not None else None,
        condition_at=observed_at if word is not None else None,
        humidity_pct=value_of(items, "REH"),
        wind_speed_ms=value_of(items, "WSD"),
        wind_dir_deg=vec if vec is not None and 0 <= vec <= 360 else None,
        precipitation_mm=rn1 if rn1 is not None and rn1 >= 0 else None,
    )


def default_url(kma_base_url: str) -> str:
    """The API Hub's typ02 proxy of getUltraSrtNcst: the same key as kma_sfctm2 works there."""
    return kma_base_url.rstrip("/") + HUB_PATH


def key_param_for(url: str) -> str:
    """data.go.kr itself wants ``serviceKey``; the API Hub wants ``authKey``."""
    host = urlsplit(url).hostname or ""
    return "serviceKey" if host.endswith("data.go.kr") else "authKey"


class GridClient:
    """One VilageFcstInfoService endpoint (the nowcast or the forecast) for one grid cell per call."""

    name: str

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        auth_key: str,
        url: str,
        timeout_s: float = 10.0,
    ) -> None:
        self.session = session
        self.url = url
        self._key = auth_key
        self._key_param = key_param_for(url)
        self.timeout_s = timeout_s
        self._timeout = client_timeout(timeout_s)
        self.where = urlsplit(url).netloc or url
        self.requests: Counter[str] = Counter()

    async def _request(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """One GET: bounded in time and size, every failure translated into an UpstreamError."""
        self.requests[self.name] += 1
        status, content_type, body = await get(
            self.session, self.url, params, limits=self._timeout, where=self.where
        )
        try:
            return parse_answer(status, content_type, body, secrets=[self._key])
        except UpstreamError as err:
            err.args = (redact(str(err), [self._key]),)
            raise

    async def issue_items(self, nx: int, ny: int, issue: datetime) -> tuple[datetime, list[dict[str, Any]]]:
        """(issue time, items) of one cell; the issue an hour earlier when this one is not out yet."""
        try:
            return issue, await self._request(grid_params(self._key_param, self._key, issue, nx, ny))
        except UpstreamNoDataError:
            earlier = issue - timedelta(hours=1)
            return earlier, await self._request(grid_params(self._key_param, self._key, earlier, nx, ny))


class UltraNcstSource(GridClient):
    """Nowcast observations for the grid cells of the stations asked."""

    name = SOURCE_NAME

    async def cell(self, nx: int, ny: int, base: datetime) -> list[dict[str, Any]]:
        """The items of one grid cell at one base time; one hour earlier when it is not out yet."""
        return (await self.issue_items(nx, ny, base))[1]

    async def station(self, station: Station, now: datetime) -> Observation:
        """The nowcast of one station's cell; one hour earlier when this hour is not out yet."""
        return to_observation(await self.cell(station.nx, station.ny, base_time(now)), station, now)

    async def probe(self, station: Station, now: datetime) -> Observation:
        """One request for this hour's nowcast of one station's cell (``ticker doctor``)."""
        items = await self._request(
            grid_params(self._key_param, self._key, base_time(now), station.nx, station.ny)
        )
        return to_observation(items, station, now)

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        """Nowcasts for these stations; raise the first error only when every one failed."""
        limit = asyncio.Semaphore(MAX_CONCURRENT)

        async def one(station: Station) -> Observation:
            async with limit:
                return await self.station(station, now)

        results = await asyncio.gather(*(one(s) for s in stations), return_exceptions=True)
        out: list[Observation] = []
        errors: list[UpstreamError] = []
        for result in results:
            if isinstance(result, UpstreamError):
                errors.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                out.append(result)
        if errors and not out:
            raise errors[0]
        return out

    async def close(self) -> None:
        return None
