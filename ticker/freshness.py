"""Per-station freshness: how old each station's data is, and what state that puts it in."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ticker.models import KST, MAX_CLOCK_SKEW_S, Observation, Station
from ticker.redaction import redact

logger = logging.getLogger(__name__)

# An hourly row usually appears some minutes after the hour; allow for that before "late".
PUBLISH_GRACE_S = 20 * 60
NO_ROW = "no_row"  # the upstream answered, but without a usable row for the station


class State(StrEnum):
    FRESH = "fresh"
    LATE = "late"
    STALE = "stale"
    MISSING = "missing"


class StationFreshness(BaseModel):
    id: int
    name: str
    name_en: str | None = None
    state: State
    observed_at: AwareDatetime | None
    fetched_at: AwareDatetime | None
    age_s: int | None
    expected_interval_s: int
    late_after_s: int | None = None
    max_age_s: int
    source: str | None
    condition: str | None = Field(default=None, description="the weather word shown")
    condition_source: str | None = Field(default=None, description="where the word came from")
    condition_at: AwareDatetime | None = Field(default=None, description="time of the word's evidence")
    last_error: str | None = Field(default=None, description="why the station last got no data")
    last_error_at: AwareDatetime | None = None


class Cycle(BaseModel):
    """What one poll cycle did: built by the poller, kept in Redis, shown by the ops surfaces."""

    model_config = ConfigDict(extra="ignore")

    started_at: AwareDatetime
    source: str
    outcome: str = "ok"  # ok | partial | error | store_error | fenced | circuit_open
    duration_s: float = 0.0
    fetched: int = 0
    written: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    missing: list[int] = Field(default_factory=list)
    error_kind: str | None = None
    message: str | None = None
    epoch: int | None = None  # the poll lease's fencing epoch this cycle wrote under
    requests: dict[str, int] = Field(default_factory=dict)  # upstream requests made, per endpoint
    feeds: dict[str, str | None] = Field(default_factory=dict)  # word feeds asked: error kind or None
    unfinished: list[str] = Field(default_factory=list)  # upstream calls cut at the cycle's budget

    def record(self) -> dict[str, object]:
        """The cycle as stored in Redis: times as Unix seconds."""
        doc = self.model_dump()
        doc["started_at"] = self.started_at.timestamp()
        return doc


def late_after_s(station: Station) -> int:
    """Age past which a station's data counts as late."""
    return station.expected_interval_s + PUBLISH_GRACE_S


def state_for(station: Station, observed_at: datetime | None, now: datetime) -> State:
    """Classify one station's data by its age."""
    if observed_at is None:
        return State.MISSING
    age = (now - observed_at).total_seconds()
    if age > station.max_age_s:
        return State.STALE
    if age > late_after_s(station):
        return State.LATE
    return State.FRESH


def assess(
    stations: Sequence[Station],
    observations: Mapping[int, Observation],
    fetched_at: Mapping[int, float],
    now: datetime,
    *,
    cycles: Sequence[Cycle] = (),
) -> list[StationFreshness]:
    """Freshness of every configured station, in configured order."""
    tz = now.tzinfo
    out: list[StationFreshness] = []
    for station in stations:
        obs = observations.get(station.id)
        if obs is not None and (obs.observed_at - now).total_seconds() > MAX_CLOCK_SKEW_S:
            obs = None  # stamped after now: not an observation of this station yet
        observed_at = obs.observed_at if obs else None
        fetched = fetched_at.get(station.id)
        error = _last_miss(station.id, cycles)
        out.append(
            StationFreshness(
                id=station.id,
                name=station.name,
                name_en=station.name_en,
                state=state_for(station, observed_at, now),
                observed_at=observed_at,
                fetched_at=datetime.fromtimestamp(fetched, tz=tz) if fetched else None,
                age_s=max(0, int((now - observed_at).total_seconds())) if observed_at else None,
                expected_interval_s=station.expected_interval_s,
                late_after_s=late_after_s(station),
                max_age_s=station.max_age_s,
                source=obs.source if obs else None,
                condition=obs.condition.value if obs and obs.condition else None,
                condition_source=obs.condition_source if obs and obs.condition else None,
                condition_at=obs.condition_at.astimezone(tz)
                if obs and obs.condition and obs.condition_at
                else None,
                last_error=error[0] if error else None,
                last_error_at=error[1].astimezone(tz) if error else None,
            )
        )
    return out


def _last_miss(station_id: int, cycles: Sequence[Cycle]) -> tuple[str, datetime] | None:
    """The newest kept cycle that brought this station nothing, and why."""
    for cycle in cycles:  # newest first
        if cycle.outcome in ("error", "circuit_open"):
            # A cycle the circuit skipped carries the failure that opened it.
            return cycle.error_kind or cycle.outcome, cycle.started_at
        if station_id in cycle.missing:
            return NO_ROW, cycle.started_at
    return None


def from_epoch(raw: str | float | None, tz: Any = KST) -> datetime | None:
    """A stored Unix time as an aware datetime; None for nothing or garbage."""
    try:
        return None if raw in (None, "") else datetime.fromtimestamp(float(raw), tz=tz)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_cycles(raws: Iterable[Mapping[str, Any]], tz: Any = KST) -> list[Cycle]:
    """Stored cycle records, newest first; records that do not parse are skipped."""
    out: list[Cycle] = []
    for raw in raws:
        doc = dict(raw)
        started = from_epoch(doc.get("started_at"), tz)
        if started is None:
            continue
        doc["started_at"] = started
        message = doc.get("message")
        doc["message"] = None if message is None else redact(str(message))
        try:
            out.append(Cycle.model_validate(doc))
        except ValidationError:
            continue
    return out


def human_age(seconds: float | None) -> str:
    """A compact age for people: 42 s, 12 min, 3 h 5 min, 2 d 3 h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 0:
        return f"in {human_age(-s)}"
    if s < 120:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


class TransitionLog:
    """Log a station's state only when it changes: one line going bad, one on recovery."""

    def __init__(self) -> None:
        self._states: dict[int, State] = {}

    def update(self, rows: Iterable[StationFreshness]) -> list[tuple[int, State | None, State]]:
        """Record the states; log and return the transitions (station id, before, after)."""
        changes: list[tuple[int, State | None, State]] = []
        for row in rows:
            before = self._states.get(row.id)
            self._states[row.id] = row.state
            if before is row.state or (before is None and row.state is State.FRESH):
                continue
            changes.append((row.id, before, row.state))
            extra = {"event": "station_state", "station": row.id, "state": row.state.value}
            when = row.observed_at.astimezone(KST).strftime("%m-%d %H:%M") if row.observed_at else "-"
            if row.state is State.FRESH:
                logger.info(
                    "station %s %s fresh again (was %s), observed %s",
                    row.id,
                    row.name,
                    before.value if before else "-",
                    when,
                    extra=extra,
                )
            else:
                logger.warning(
                    "station %s %s is %s: observed %s, %s old (late after %s, stale after %s)",
                    row.id,
                    row.name,
                    row.state.value,
                    when,
                    human_age(row.age_s),
                    human_age(row.late_after_s),
                    human_age(row.max_age_s),
                    extra=extra,
                )
        return changes
