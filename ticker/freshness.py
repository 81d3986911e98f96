"""Per-station freshness: how old each station's data is, and what state that puts it in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel

from ticker.models import Observation, Station

# An hourly row usually appears some minutes after the hour; allow for that before "late".
PUBLISH_GRACE_S = 20 * 60


class State(StrEnum):
    FRESH = "fresh"
    LATE = "late"
    STALE = "stale"
    MISSING = "missing"


class StationFreshness(BaseModel):
    id: int
    name: str
    state: State
    observed_at: AwareDatetime | None
    fetched_at: AwareDatetime | None
    age_s: int | None
    expected_interval_s: int
    max_age_s: int
    source: str | None


def state_for(station: Station, observed_at: datetime | None, now: datetime) -> State:
    """Classify one station's data by its age."""
    if observed_at is None:
        return State.MISSING
    age = (now - observed_at).total_seconds()
    if age > station.max_age_s:
        return State.STALE
    if age > station.expected_interval_s + PUBLISH_GRACE_S:
        return State.LATE
    return State.FRESH


def assess(
    stations: Sequence[Station],
    observations: Mapping[int, Observation],
    fetched_at: Mapping[int, float],
    now: datetime,
) -> list[StationFreshness]:
    """Freshness of every configured station, in configured order."""
    out: list[StationFreshness] = []
    for station in stations:
        obs = observations.get(station.id)
        observed_at = obs.observed_at if obs else None
        fetched = fetched_at.get(station.id)
        out.append(
            StationFreshness(
                id=station.id,
                name=station.name,
                state=state_for(station, observed_at, now),
                observed_at=observed_at,
                fetched_at=datetime.fromtimestamp(fetched, tz=now.tzinfo) if fetched else None,
                age_s=int((now - observed_at).total_seconds()) if observed_at else None,
                expected_interval_s=station.expected_interval_s,
                max_age_s=station.max_age_s,
                source=obs.source if obs else None,
            )
        )
    return out
