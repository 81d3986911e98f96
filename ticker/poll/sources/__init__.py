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
    if settings.fallback == "none":
        return primary
    from ticker.poll.sources.fallback import FallbackSource
    from ticker.poll.sources.ultra_ncst import UltraNcstSource, default_url

    key = settings.fallback_auth_key or settings.kma_auth_key
    if key is None:  # from_settings already refused this; keeps the type narrow
        return primary
    fallback = UltraNcstSource(
        session=session,
        auth_key=key.get_secret_value(),
        url=settings.fallback_url or default_url(settings.kma_base_url),
        timeout_s=settings.kma_timeout_s,
    )
    return FallbackSource(primary, fallback)
