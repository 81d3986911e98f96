"""Upstream sources. Each turns an upstream answer into observations; none of them stores anything."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ticker.models import Observation, Station

if TYPE_CHECKING:
    from aiohttp import ClientSession

    from ticker.config import Settings


class Source(Protocol):
    """What the poller needs from an upstream."""

    name: str

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        """Return the latest observations the upstream has for these stations.

        Raises an ``UpstreamError`` subclass when the upstream answers with anything but data.
        Stations the upstream has no row for are simply absent from the result.
        """
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def new_session() -> ClientSession:
    """The HTTP client session the sources share, with every phase of a request bounded."""
    import aiohttp

    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15, sock_connect=3, sock_read=10))


def build_source(settings: Settings, session: ClientSession) -> Source:
    """The source the settings ask for."""
    name = settings.effective_source
    if name == "sim":
        from ticker.poll.sources.sim import SimSource

        return SimSource()
    from ticker.poll.sources.kma_apihub import KmaApiHubSource

    primary = KmaApiHubSource.from_settings(settings, session)
    source: Source = primary
    key = settings.fallback_auth_key or settings.kma_auth_key
    if settings.fallback != "none" and key is not None:
        from ticker.poll.sources.fallback import FallbackSource
        from ticker.poll.sources.ultra_ncst import UltraNcstSource, default_url

        fallback = UltraNcstSource(
            session=session,
            auth_key=key.get_secret_value(),
            url=settings.fallback_url or default_url(settings.kma_base_url),
            timeout_s=settings.kma_timeout_s,
        )
        source = FallbackSource(primary, fallback)
    if settings.poll_timing == "publication":
        from ticker.poll.sources.timing import PublicationGate

        source = PublicationGate(source)
    feeds = settings.effective_word_feeds
    if not feeds or settings.kma_auth_key is None:
        return source
    return _with_word_feeds(settings, session, source, feeds)


def _with_word_feeds(settings: Settings, session: ClientSession, source: Source, feeds: list[str]) -> Source:
    """The source wrapped with the weather word's evidence feeds, each asked on its own."""
    from ticker.poll.sources.aws_min import AwsMinuteFeed
    from ticker.poll.sources.ultra_fcst import UltraFcstFeed
    from ticker.poll.sources.ultra_fcst import default_url as fcst_url
    from ticker.poll.sources.ultra_ncst import UltraNcstSource
    from ticker.poll.sources.ultra_ncst import default_url as ncst_url
    from ticker.poll.sources.words import WordsSource

    assert settings.kma_auth_key is not None  # checked by the caller
    key = settings.kma_auth_key.get_secret_value()
    base, timeout = settings.kma_base_url, settings.kma_timeout_s
    minute = AwsMinuteFeed(session=session, auth_key=key, base_url=base, timeout_s=timeout)
    nowcast = UltraNcstSource(session=session, auth_key=key, url=ncst_url(base), timeout_s=timeout)
    forecast = UltraFcstFeed(session=session, auth_key=key, url=fcst_url(base), timeout_s=timeout)
    return WordsSource(
        source,
        minute=minute if "aws_min" in feeds else None,
        nowcast=nowcast if "ultra_ncst" in feeds else None,
        forecast=forecast if "ultra_fcst" in feeds else None,
    )
