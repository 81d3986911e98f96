"""A primary source with a second one for the stations the primary answer leaves without a fresh row."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from ticker.errors import UpstreamError
from ticker.freshness import State, state_for
from ticker.models import Observation, Station
from ticker.poll.qc import check
from ticker.poll.resilience import within_cycle
from ticker.poll.sources import Source

logger = logging.getLogger(__name__)


class FallbackSource:
    """Ask ``primary``; ask ``fallback`` only for stations with no fresh, valid primary row.

    A failing primary fails the cycle (nothing is stored, the error is recorded); a failing
    fallback only leaves those stations as they were. Each observation keeps its own ``source``.
    """

    def __init__(self, primary: Source, fallback: Source) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self._fallback_failing: str | None = None

    def needing_fallback(
        self, stations: Sequence[Station], rows: Sequence[Observation], now: datetime
    ) -> list[Station]:
        """Stations without a row that passes QC and is fresh."""
        newest: dict[int, datetime] = {}
        for row in rows:
            if isinstance(check(row, now), Observation):
                current = newest.get(row.station_id)
                if current is None or row.observed_at > current:
                    newest[row.station_id] = row.observed_at
        return [s for s in stations if state_for(s, newest.get(s.id), now) is not State.FRESH]

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        rows = await self.primary.fetch(stations, now)
        need = self.needing_fallback(stations, rows, now)
        if not need:
            return rows
        try:
            extra = await within_cycle(self.fallback.fetch(need, now), f"fallback {self.fallback.name}")
        except UpstreamError as err:
            if self._fallback_failing != err.kind:
                logger.warning("fallback %s failing (%s): %s", self.fallback.name, err.kind, err)
            self._fallback_failing = err.kind
            return rows
        if self._fallback_failing is not None:
            logger.info("fallback %s answering again", self.fallback.name)
            self._fallback_failing = None
        logger.debug("fallback %s for stations %s", self.fallback.name, [s.id for s in need])
        return [*rows, *extra]

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()
