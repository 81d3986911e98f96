"""``ticker doctor``: ask each upstream API once with the configured key and say what to do.

Each API the service calls is one ``UpstreamApi`` entry in ``UPSTREAM_APIS``: a name, what it
is for, where to apply for it, when the settings need it, and a probe that makes one request.
An API added later registers one more entry (``register``). The key never appears in a line:
probes run through the sources, which redact it from every error text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import aiohttp

from ticker.config import Settings
from ticker.errors import (
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamForbiddenError,
    UpstreamMaintenanceError,
    UpstreamNoDataError,
    UpstreamQuotaError,
    UpstreamTimeoutError,
)
from ticker.models import Station
from ticker.poll.resilience import NO_RETRY
from ticker.poll.sources.aws_min import AwsMinuteFeed
from ticker.poll.sources.kma_apihub import KmaApiHubSource
from ticker.poll.sources.kma_warnings import KmaWarningsSource
from ticker.poll.sources.ultra_fcst import UltraFcstFeed, issue_time
from ticker.poll.sources.ultra_fcst import default_url as fcst_url
from ticker.poll.sources.ultra_ncst import UltraNcstSource, default_url, key_param_for

HUB = "https://apihub.kma.go.kr"


class Verdict(StrEnum):
    """One line's outcome; ``FAIL`` on something needed makes the exit code 1."""

    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Probe:
    """What one check found, as one line."""

    verdict: Verdict
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.verdict.value:<4}  {self.name:<12} {self.detail}"


@dataclass(frozen=True)
class UpstreamApi:
    """One upstream API the service calls."""

    name: str
    title: str
    # Where to apply (활용신청) for it. ASSUMPTION: the menu path is as the API Hub showed it when
    # this was written; the pages are not linkable one by one.
    apply_at: Callable[[Settings], str]
    needed: Callable[[Settings], bool]
    ask: Callable[[Settings, aiohttp.ClientSession, Station, datetime], Awaitable[str]]


def _key(settings: Settings, secret: object | None = None) -> str:
    chosen = secret or settings.kma_auth_key
    assert chosen is not None  # probes run only with a key
    return str(chosen.get_secret_value())  # type: ignore[attr-defined]


async def _ask_sfctm2(
    settings: Settings, session: aiohttp.ClientSession, station: Station, now: datetime
) -> str:
    source = KmaApiHubSource(
        session=session,
        auth_key=_key(settings),
        base_url=settings.kma_base_url,
        timeout_s=settings.kma_timeout_s,
        retry=NO_RETRY,
    )
    frame = await source.frame([station.id])
    row = frame.rows[0]
    return f"answered: {station.name} ({station.id}) observed {row.observed_at:%Y-%m-%d %H:%M} KST"


def _fallback_url(settings: Settings) -> str:
    return settings.fallback_url or default_url(settings.kma_base_url)


async def _ask_ultra_ncst(
    settings: Settings, session: aiohttp.ClientSession, station: Station, now: datetime
) -> str:
    source = UltraNcstSource(
        session=session,
        auth_key=_key(settings, settings.fallback_auth_key),
        url=_fallback_url(settings),
        timeout_s=settings.kma_timeout_s,
    )
    try:
        obs = await source.probe(station, now)
    except UpstreamNoDataError:
        return f"answered (this hour's nowcast for {station.name} not published yet): the key works"
    return f"answered: {station.name} grid ({station.nx},{station.ny}) at {obs.observed_at:%H:%M} KST"


def _ncst_apply_at(settings: Settings) -> str:
    if key_param_for(_fallback_url(settings)) == "serviceKey":
        return "https://www.data.go.kr/data/15084084/openapi.do (기상청_단기예보 조회서비스, 활용신청)"
    return f"{HUB} > 예특보 > 단기예보 > 초단기실황 조회 (getUltraSrtNcst), 활용신청"


def _uses_hub(settings: Settings) -> bool:
    return settings.effective_source == "kma_apihub"


def _word_feed(name: str) -> Callable[[Settings], bool]:
    return lambda s: _uses_hub(s) and name in s.effective_word_feeds


async def _ask_aws_min(
    settings: Settings, session: aiohttp.ClientSession, station: Station, now: datetime
) -> str:
    feed = AwsMinuteFeed(
        session=session,
        auth_key=_key(settings),
        base_url=settings.kma_base_url,
        timeout_s=settings.kma_timeout_s,
        retry=NO_RETRY,
    )
    readings = await feed.readings([station.id], now)
    found = "a reading" if station.id in readings else "no reading"
    return f"answered: {found} for {station.name} ({station.id})"


async def _ask_ultra_fcst(
    settings: Settings, session: aiohttp.ClientSession, station: Station, now: datetime
) -> str:
    feed = UltraFcstFeed(
        session=session,
        auth_key=_key(settings),
        url=fcst_url(settings.kma_base_url),
        timeout_s=settings.kma_timeout_s,
    )
    try:
        issue, _items = await feed.cell(station.nx, station.ny, issue_time(now))
    except UpstreamNoDataError:
        return f"answered (no forecast issued yet for {station.name}'s cell): the key works"
    return f"answered: {station.name} grid ({station.nx},{station.ny}), issue {issue:%H:%M} KST"


async def _ask_warnings(
    settings: Settings, session: aiohttp.ClientSession, station: Station, now: datetime
) -> str:
    source = KmaWarningsSource(
        session=session,
        auth_key=_key(settings),
        base_url=settings.kma_base_url,
        timeout_s=settings.kma_timeout_s,
        retry=NO_RETRY,
    )
    warnings = await source.fetch([station], now)
    return f"answered: {len(warnings)} warning(s) in effect for {station.name}"


UPSTREAM_APIS: list[UpstreamApi] = [
    UpstreamApi(
        name="kma_sfctm2",
        title="ASOS hourly observations (지상관측 시간자료)",
        apply_at=lambda s: f"{HUB} > 지상관측 > 종관기상관측(ASOS) > 시간자료 (kma_sfctm2), 활용신청",
        needed=_uses_hub,
        ask=_ask_sfctm2,
    ),
    UpstreamApi(
        name="ultra_ncst",
        title="nowcast fallback (초단기실황)",
        apply_at=_ncst_apply_at,
        needed=lambda s: (_uses_hub(s) and s.fallback == "ultra_ncst") or _word_feed("ultra_ncst")(s),
        ask=_ask_ultra_ncst,
    ),
    UpstreamApi(
        name="wrn_now_data",
        title="weather warnings (특보현황)",
        apply_at=lambda s: f"{HUB} > 예특보 > 기상특보 > 특보현황 조회 (wrn_now_data), 활용신청",
        needed=lambda s: _uses_hub(s) and s.warnings_source == "kma_warnings",
        ask=_ask_warnings,
    ),
    UpstreamApi(
        name="aws_min",
        title="AWS minute data for weather words (AWS 매분자료)",
        apply_at=lambda s: f"{HUB} > 지상관측 > 방재기상관측(AWS) > 매분자료 (nph-aws2_min), 활용신청",
        needed=_word_feed("aws_min"),
        ask=_ask_aws_min,
    ),
    UpstreamApi(
        name="ultra_fcst",
        title="sky forecast for weather words (초단기예보)",
        apply_at=lambda s: f"{HUB} > 예특보 > 단기예보 > 초단기예보 조회 (getUltraSrtFcst), 활용신청",
        needed=_word_feed("ultra_fcst"),
        ask=_ask_ultra_fcst,
    ),
]


def register(api: UpstreamApi) -> None:
    """Add an upstream API to the doctor's list (one line per API a change adds)."""
    UPSTREAM_APIS.append(api)


def _advice(api: UpstreamApi, settings: Settings, err: UpstreamError) -> str:
    """What the failure means and what to do, in one line."""
    if isinstance(err, UpstreamAuthError):
        return "key rejected: check TICKER_KMA_AUTH_KEY (API Hub > 마이페이지 > 인증키)"
    if isinstance(err, UpstreamQuotaError):
        return "quota used up for today: wait for the reset, or ask for a larger quota"
    if isinstance(err, UpstreamForbiddenError):
        return f"not applied for with this key: apply at {api.apply_at(settings)}"
    if isinstance(err, UpstreamMaintenanceError):
        return f"under maintenance ({err}): try again later"
    if isinstance(err, UpstreamConnectionError | UpstreamTimeoutError):
        return f"unreachable ({err}): check TICKER_KMA_BASE_URL and the network"
    return f"unexpected answer ({err.kind}: {err})"


async def probe_upstreams(settings: Settings, station: Station, now: datetime) -> list[tuple[Probe, bool]]:
    """One line per upstream API, and whether the settings need it."""
    from ticker.poll.sources import new_session

    results: list[tuple[Probe, bool]] = []
    async with new_session() as session:
        for api in UPSTREAM_APIS:
            needed = api.needed(settings)
            label = f"{api.title}"
            if not needed:
                why = "not used with these settings"
                results.append((Probe(Verdict.SKIP, api.name, f"{label}: {why}"), False))
                continue
            if settings.kma_auth_key is None:
                detail = f"{label}: no key; set TICKER_KMA_AUTH_KEY"
                results.append((Probe(Verdict.FAIL, api.name, detail), True))
                continue
            try:
                said = await api.ask(settings, session, station, now)
            except UpstreamError as err:
                detail = f"{label}: {_advice(api, settings, err)}"
                results.append((Probe(Verdict.FAIL, api.name, detail), True))
            else:
                results.append((Probe(Verdict.OK, api.name, f"{label}: {said}"), True))
    return results
