"""Ask for the hourly table when a new hour can appear, not on every poll cycle.

The poller ticks often (every minute by default) so that the weather-word feeds and a newly
published hour are picked up quickly; the hourly table itself is asked only while the current
hour is expected and not yet in: every tick around the minute it usually appears, every two
minutes in the rest of the window in which hours appear, then sparsely until the hour is
complete. Between hours the last rows are handed on unchanged (the word feeds may still change
their words). The publication minute is learnt from when the hours appeared.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from ticker.models import KST, Observation, Station
from ticker.poll.sources import Source

# From this long after the hour the table is asked at least every STEP (ASSUMPTION: no hour
# appears sooner); every tick around the learnt minute; after WINDOW only every SPARSE_EVERY.
EARLIEST = timedelta(minutes=2)
STEP = timedelta(minutes=2)
WINDOW = timedelta(minutes=25)
AROUND = timedelta(minutes=2)
SPARSE_EVERY = timedelta(minutes=15)
LEARNT_HOURS = 6


class PublicationGate:
    """Wraps the hourly source: a request only when a new hour can be there."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.name = inner.name
        self._rows: list[Observation] | None = None
        self._complete_hour: datetime | None = None
        self._asked_at: datetime | None = None
        self._lags: deque[timedelta] = deque(maxlen=LEARNT_HOURS)
        self.from_cache = False  # whether the last fetch handed on the previous rows

    @property
    def expected_lag(self) -> timedelta | None:
        """When the hour usually appears: the earliest of the recent hours, None before any."""
        return min(self._lags) if self._lags else None

    def due(self, now: datetime) -> bool:
        """Whether the hourly table should be asked at ``now``."""
        hour = now.astimezone(KST).replace(minute=0, second=0, microsecond=0)
        if self._rows is None or self._asked_at is None:
            return True
        if self._complete_hour is not None and self._complete_hour >= hour:
            return False  # nothing newer can appear before the next hour
        since = now - self._asked_at
        offset = now - hour
        if offset < EARLIEST:
            # Not out yet; only an incomplete previous hour is worth a (sparse) look.
            previous_done = self._complete_hour is not None and self._complete_hour >= hour - timedelta(
                hours=1
            )
            return not previous_done and since >= SPARSE_EVERY
        if offset >= WINDOW:
            return since >= SPARSE_EVERY
        lag = self.expected_lag
        if lag is not None and lag - AROUND <= offset <= lag + AROUND:
            return True
        return since >= STEP

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        if not self.due(now):
            self.from_cache = True
            return list(self._rows or [])
        self.from_cache = False
        self._asked_at = now
        rows = await self.inner.fetch(stations, now)
        hour = now.astimezone(KST).replace(minute=0, second=0, microsecond=0)
        newest: dict[int, datetime] = {}
        for row in rows:
            if row.observed_at > newest.get(row.station_id, row.observed_at - timedelta(seconds=1)):
                newest[row.station_id] = row.observed_at
        complete = len(newest) >= len(stations) and all(
            newest.get(s.id, hour - timedelta(hours=1)) >= hour for s in stations
        )
        if complete and (self._complete_hour is None or self._complete_hour < hour):
            self._lags.append(now - hour)
            self._complete_hour = hour
        self._rows = _merge(self._rows or [], rows)
        return rows

    async def close(self) -> None:
        await self.inner.close()


def _merge(old: Sequence[Observation], new: Sequence[Observation]) -> list[Observation]:
    """The newest row per station of both."""
    best: dict[int, Observation] = {}
    for row in [*old, *new]:
        current = best.get(row.station_id)
        if current is None or row.observed_at >= current.observed_at:
            best[row.station_id] = row
    return list(best.values())
