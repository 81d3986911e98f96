"""The evidence feeds of the weather word: minute data, nowcast and forecast, each on its own.

Wraps the observation source. Temperatures and rows come from it unchanged; only where its row
does not decide the word (no WC word) are the feeds asked: the AWS minute data for every station
at once, the 초단기실황 for the grid cells left without a minute reading, the 초단기예보 for the
cells left dry without a cloud amount. Nowcast and forecast answers are cached per issue time, so
each cell costs at most one request per issue. A failing feed (an API not applied for, a timeout)
only takes its own evidence away: it has its own state, its own circuit, and never fails the cycle.
The word itself is decided by ``ticker.weather.decide``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ticker.errors import UpstreamError
from ticker.models import KST, Observation, Station
from ticker.poll.resilience import Circuit, within_cycle
from ticker.poll.sources import Source
from ticker.poll.sources.aws_min import VALID_FOR, AwsMinuteFeed
from ticker.poll.sources.ultra_fcst import UltraFcstFeed, issue_time, sky_at
from ticker.poll.sources.ultra_ncst import UltraNcstSource, base_time, value_of
from ticker.weather import SensorReading, Word, condition_from_wc, decide

logger = logging.getLogger(__name__)

Cell = tuple[int, int]
NCST_SOURCE = "ultra_ncst"
NCST_API = "초단기실황 (VilageFcstInfoService_2.0/getUltraSrtNcst)"
# The minute data is asked at most this often: RN-15m covers 15 minutes, so nothing is missed.
MINUTE_EVERY = timedelta(minutes=10)
# An issue answered with the one before (not out yet) is asked again after this long.
RETRY_ISSUE_AFTER = timedelta(minutes=5)
MAX_CONCURRENT = 4


@dataclass(frozen=True)
class FeedState:
    """What one feed did in one fetch: success, or the classified failure (naming its API)."""

    name: str
    at: datetime
    error_kind: str | None = None
    message: str | None = None


@dataclass
class _Issue:
    wanted: datetime  # the issue time asked for
    got: datetime  # the issue time answered (the one before, when the wanted one was not out)
    asked_at: datetime
    items: list[dict[str, Any]]


def needs_evidence(row: Observation) -> bool:
    """Whether the row leaves the word open: no WC word (an ASOS row), no PTY word (a nowcast row)."""
    if row.source == NCST_SOURCE:
        return row.condition is None
    return row.present_weather is None or condition_from_wc(row.present_weather) is None


def note_for(api_name: str, err: UpstreamError) -> str:
    """The message of a failed feed; a refused key names the API to apply for."""
    text = f"{api_name}: {err}"
    if err.kind in ("forbidden", "auth"):
        text += f" (apply for {api_name} for this key on the API Hub)"
    return text


class _Feed:
    """One feed's circuit and the state it reports after each fetch."""

    def __init__(self, name: str, api_name: str, circuit: Circuit) -> None:
        self.name, self.api_name, self.circuit = name, api_name, circuit
        self.state: FeedState | None = None
        self._failing: str | None = None

    def allow(self, now: datetime) -> bool:
        return self.circuit.allow(now)

    def ok(self, now: datetime) -> None:
        self.circuit.success()
        if self._failing is not None:
            logger.info("feed %s answering again", self.name)
        self._failing = None
        self.state = FeedState(self.name, now)

    def failed(self, now: datetime, err: UpstreamError) -> None:
        self.circuit.failure(now)
        message = note_for(self.api_name, err)
        if self._failing != err.kind:
            logger.warning("feed %s failing (%s): %s", self.name, err.kind, message)
        self._failing = err.kind
        self.state = FeedState(self.name, now, err.kind, message)


class WordsSource:
    """An observation source whose words are decided with the minute data, nowcast and forecast."""

    def __init__(
        self,
        inner: Source,
        *,
        minute: AwsMinuteFeed | None = None,
        nowcast: UltraNcstSource | None = None,
        forecast: UltraFcstFeed | None = None,
        circuit: Callable[[], Circuit] = lambda: Circuit(base_s=600.0),
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.minute, self.nowcast, self.forecast = minute, nowcast, forecast
        self._feeds = {
            "aws_min": _Feed("aws_min", minute.api_name if minute else "", circuit()),
            "ultra_ncst": _Feed("ultra_ncst", NCST_API, circuit()),
            "ultra_fcst": _Feed("ultra_fcst", forecast.api_name if forecast else "", circuit()),
        }
        self._readings: dict[int, SensorReading] = {}
        self._minute_asked: datetime | None = None
        self._pty: dict[Cell, _Issue] = {}
        self._sky: dict[Cell, _Issue] = {}

    @property
    def feed_names(self) -> list[str]:
        """The feeds configured, as their state is recorded."""
        pairs = (("aws_min", self.minute), ("ultra_ncst", self.nowcast), ("ultra_fcst", self.forecast))
        return [name for name, feed in pairs if feed is not None]

    def drain_feed_states(self) -> list[FeedState]:
        """The states the feeds reported since the last call."""
        out = [f.state for f in self._feeds.values() if f.state is not None]
        for feed in self._feeds.values():
            feed.state = None
        return out

    @property
    def from_cache(self) -> bool:
        """Whether the rows of the last fetch were handed on without asking the hourly table."""
        return bool(getattr(self.inner, "from_cache", False))

    def drain_requests(self) -> Counter[str]:
        """Requests made per endpoint since the last call (the inner source's included)."""
        return drain_requests(self.inner, self.minute, self.nowcast, self.forecast)

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        rows = await self.inner.fetch(stations, now)
        by_id = {s.id: s for s in stations}
        open_rows = [r for r in rows if r.station_id in by_id and needs_evidence(r)]
        if not open_rows:
            return rows
        readings = await self._minute_readings([r.station_id for r in open_rows], now)
        unknown = [
            r
            for r in open_rows
            if r.source != NCST_SOURCE and _precipitating(readings.get(r.station_id), now) is None
        ]
        pty = await self._cells(self._pty, [by_id[r.station_id] for r in unknown], now, self._ask_pty)
        decided: dict[int, Observation] = {}
        dry_no_cloud: list[Observation] = []
        for row in open_rows:
            word, stamp = self._decide(row, by_id[row.station_id], readings, pty, {}, now)
            if word is None and row.cloud_tenths is None:
                dry_no_cloud.append(row)
            decided[id(row)] = _with_word(row, word, stamp)
        sky_cells = [by_id[r.station_id] for r in dry_no_cloud]
        sky = await self._cells(self._sky, sky_cells, now, self._ask_sky)
        for row in dry_no_cloud:
            word, stamp = self._decide(row, by_id[row.station_id], readings, pty, sky, now)
            decided[id(row)] = _with_word(row, word, stamp)
        return [decided.get(id(r), r) for r in rows]

    def _decide(
        self,
        row: Observation,
        station: Station,
        readings: dict[int, SensorReading],
        pty: dict[Cell, _Issue],
        sky: dict[Cell, _Issue],
        now: datetime,
    ) -> tuple[Word | None, datetime]:
        reading = readings.get(row.station_id)
        if reading is not None and now - reading.at > VALID_FOR:
            reading = None
        cell = (station.nx, station.ny)
        p, s = pty.get(cell), sky.get(cell)
        consulted = [row.observed_at, *(e.got for e in (p, s) if e is not None)]
        if reading is not None:
            consulted.append(reading.at)
        code: int | None = None
        if row.source == NCST_SOURCE:  # a nowcast row without a word: its cell's PTY was 0
            code, p_at = 0, row.observed_at
        elif p is not None:
            value = value_of(p.items, "PTY")
            code, p_at = (int(value) if value is not None and value == int(value) else None), p.got
        found = sky_at(s.items, now) if s is not None else None
        word = decide(
            wc=row.present_weather,
            ca_tot=row.cloud_tenths,
            ta=row.temperature_c,
            observed_at=row.observed_at,
            sensor=reading,
            pty=code,
            pty_at=p_at if code is not None else None,
            sky=found[0] if found else None,
            sky_at=s.got if s is not None and found else None,
        )
        return word, max(consulted)

    async def _minute_readings(self, ids: list[int], now: datetime) -> dict[int, SensorReading]:
        feed = self._feeds["aws_min"]
        due = self._minute_asked is None or now - self._minute_asked >= MINUTE_EVERY
        if self.minute is not None and due and feed.allow(now):
            self._minute_asked = now
            try:
                self._readings = await within_cycle(self.minute.readings(ids, now), "word feed aws_min")
            except UpstreamError as err:
                feed.failed(now, err)
            else:
                feed.ok(now)
        return self._readings

    async def _cells(
        self,
        cache: dict[Cell, _Issue],
        stations: Iterable[Station],
        now: datetime,
        ask: Callable[[Cell, datetime], Awaitable[_Issue | None]],
    ) -> dict[Cell, _Issue]:
        cells = {(s.nx, s.ny) for s in stations}
        limit = asyncio.Semaphore(MAX_CONCURRENT)

        async def one(cell: Cell) -> None:
            async with limit:
                issue = await ask(cell, now)
            if issue is not None:
                cache[cell] = issue

        await asyncio.gather(*(one(c) for c in sorted(cells)))
        return {c: cache[c] for c in cells if c in cache}

    def _due(self, cached: _Issue | None, wanted: datetime, now: datetime) -> bool:
        if cached is None or cached.wanted != wanted:
            return True
        return cached.got < wanted and now - cached.asked_at >= RETRY_ISSUE_AFTER

    async def _ask_pty(self, cell: Cell, now: datetime) -> _Issue | None:
        feed, wanted = self._feeds["ultra_ncst"], base_time(now)
        cached = self._pty.get(cell)
        if self.nowcast is None or not self._due(cached, wanted, now) or not feed.allow(now):
            return cached
        try:
            items = await within_cycle(self.nowcast.cell(cell[0], cell[1], wanted), "word feed ultra_ncst")
        except UpstreamError as err:
            feed.failed(now, err)
            return cached
        feed.ok(now)
        return _Issue(wanted, _base_of(items) or wanted, now, items)

    async def _ask_sky(self, cell: Cell, now: datetime) -> _Issue | None:
        feed, wanted = self._feeds["ultra_fcst"], issue_time(now)
        cached = self._sky.get(cell)
        if self.forecast is not None and self._due(cached, wanted, now) and feed.allow(now):
            try:
                got, items = await within_cycle(
                    self.forecast.cell(cell[0], cell[1], wanted), "word feed ultra_fcst"
                )
            except UpstreamError as err:
                feed.failed(now, err)
            else:
                feed.ok(now)
                cached = _Issue(wanted, got, now, items)
        return cached

    async def close(self) -> None:
        await self.inner.close()


_WRAPPED = ("inner", "primary", "fallback", "minute", "nowcast", "forecast")


def drain_requests(*parts: object) -> Counter[str]:
    """The request counts of these sources and of the sources they wrap, cleared."""
    total: Counter[str] = Counter()
    seen: set[int] = set()
    todo = [p for p in parts if p is not None]
    while todo:
        part = todo.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        counter = getattr(part, "requests", None)
        if isinstance(counter, Counter):
            total.update(counter)
            counter.clear()
        todo += [w for w in (getattr(part, a, None) for a in _WRAPPED) if w is not None]
    return total


def _precipitating(reading: SensorReading | None, now: datetime) -> bool | None:
    if reading is None or now - reading.at > VALID_FOR:
        return None
    return reading.precipitating


def _base_of(items: Sequence[dict[str, Any]]) -> datetime | None:
    try:
        stamp = str(items[0].get("baseDate", "")) + str(items[0].get("baseTime", "")).zfill(4)
        return datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=KST)
    except (ValueError, IndexError):
        return None


def _with_word(row: Observation, word: Word | None, stamp: datetime) -> Observation:
    return row.model_copy(
        update={
            "evidence_at": stamp,
            "condition": word.condition if word else None,
            "condition_source": word.source.value if word else None,
            "condition_at": word.at if word else None,
        }
    )
