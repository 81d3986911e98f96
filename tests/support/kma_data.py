"""The strip as real deployments show it: simulated values, saved as the API Hub's.

With the simulated source the strip's credit reads "모의 데이터 · 실제 날씨 아님"; the embeds'
layouts are checked with the credit a real deployment shows ("기상청 제공"), so these values are
saved with the API Hub's source name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

import pytest
from aiohttp.test_utils import TestServer

from tests.support.helpers import served, web_app
from ticker.config import Settings
from ticker.models import Station
from ticker.poll.sources.sim import SimSource, simulate
from ticker.store import Store


async def save_as_kma(stations: Sequence[Station], store: Store, clock: Callable[[], datetime]) -> None:
    now = clock()
    at = SimSource().slot(now)
    observations = [simulate(s, at, now).model_copy(update={"source": "kma_apihub"}) for s in stations]
    assert await store.save_observations(observations) == len(observations)


@pytest.fixture
async def ticker(
    settings: Settings, stations: list[Station], store: Store, clock: Callable[[], datetime]
) -> AsyncIterator[TestServer]:
    """The ticker as `ticker serve` serves it (through the front door), with the KMA credit."""
    await save_as_kma(stations, store, clock)
    async with served(web_app(settings, stations, store, clock)) as server:
        yield server
