"""Pure quality checks: what may be stored and shown, and what must be dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ticker.models import MAX_CLOCK_SKEW_S, Observation

MAX_FUTURE = timedelta(seconds=MAX_CLOCK_SKEW_S)
# Sources whose rows are hourly observations, stamped on the hour (ASOS via kma_sfctm2.php, and
# the 초단기실황 of the fallback). A row of theirs at any other minute is not an observation time.
HOURLY_SOURCES = frozenset({"kma_apihub", "ultra_ncst"})

# Physically plausible ranges (inclusive). A value outside is unknown, not clipped.
RANGES: Mapping[str, tuple[float, float]] = {
    "temperature_c": (-50.0, 50.0),
    "humidity_pct": (0.0, 100.0),
    "wind_speed_ms": (0.0, 75.0),
    "wind_dir_deg": (0.0, 360.0),
    "precipitation_mm": (0.0, 500.0),
}


@dataclass(frozen=True)
class Rejection:
    """A row QC refused, with a short reason for logs and counters."""

    station_id: int
    reason: str


def _in_range(field: str, value: float | None) -> bool:
    if value is None:
        return True
    low, high = RANGES[field]
    # -50 is the edge where KMA's sentinels begin; it is never a real reading here.
    if field == "temperature_c" and value <= low:
        return False
    return low <= value <= high


def check(obs: Observation, now: datetime) -> Observation | Rejection:
    """Return the observation with implausible fields set to None, or why it is unusable."""
    if obs.observed_at > now + MAX_FUTURE:
        return Rejection(obs.station_id, "future")
    at = obs.observed_at
    if obs.source in HOURLY_SOURCES and (at.minute, at.second, at.microsecond) != (0, 0, 0):
        return Rejection(obs.station_id, "off_hour")
    cleaned = {f: getattr(obs, f) for f in RANGES if not _in_range(f, getattr(obs, f))}
    if "temperature_c" in cleaned or obs.temperature_c is None:
        # The ticker exists to show a temperature; a row without a usable one keeps the last good.
        return Rejection(obs.station_id, "no_temperature")
    if cleaned:
        obs = obs.model_copy(update=dict.fromkeys(cleaned))
    return obs


@dataclass(frozen=True)
class QcResult:
    accepted: dict[int, Observation]
    rejected: list[Rejection]


def screen(
    observations: Iterable[Observation],
    now: datetime,
    known: Iterable[int],
) -> QcResult:
    """Check every row and keep the newest valid one per known station."""
    wanted = set(known)
    accepted: dict[int, Observation] = {}
    rejected: list[Rejection] = []
    for obs in observations:
        if obs.station_id not in wanted:
            rejected.append(Rejection(obs.station_id, "unknown_station"))
            continue
        result = check(obs, now)
        if isinstance(result, Rejection):
            rejected.append(result)
            continue
        current = accepted.get(result.station_id)
        if current is None or result.observed_at > current.observed_at:
            accepted[result.station_id] = result
    return QcResult(accepted, rejected)
