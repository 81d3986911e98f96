"""A deterministic simulated upstream that looks like a real ticker.

Every value is a pure function of (station, observation time): a diurnal temperature cycle by
month, latitude and altitude; cloud cover that drifts smoothly; occasional rain when it is cloudy.
The observations go through the same QC, store and render path as a real source.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Sequence
from datetime import datetime, timedelta

from ticker.models import KST, Observation, Station
from ticker.weather import SensorReading, Word, decide

# Seoul's monthly mean temperature (1991-2020 normals, rounded), January first.
_MONTHLY_MEAN_C = (-2.0, 0.6, 6.3, 12.9, 18.2, 22.4, 25.3, 26.1, 21.6, 14.9, 7.5, 0.2)
# Mean diurnal half-range by month: larger in dry spring, smaller in the wet summer.
_MONTHLY_HALF_RANGE_C = (4.5, 4.8, 5.2, 5.5, 5.0, 4.0, 3.2, 3.4, 4.0, 4.8, 4.6, 4.3)
_REF_LAT = 37.57
_LAPSE_C_PER_M = 0.0065


def _unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from the parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    value: int = struct.unpack(">Q", digest)[0]
    return value / 2**64


def _smooth(station_id: int, name: str, t_hours: float, period_h: float) -> float:
    """Value noise in [0, 1) that drifts smoothly over time (cosine interpolation of knots)."""
    k = math.floor(t_hours / period_h)
    frac = t_hours / period_h - k
    a, b = _unit(station_id, name, k), _unit(station_id, name, k + 1)
    w = (1 - math.cos(math.pi * frac)) / 2
    return a * (1 - w) + b * w


def _month_value(table: tuple[float, ...], local: datetime) -> float:
    """Interpolate a monthly table at a day of the year so seasons change smoothly."""
    pos = local.month - 1 + (local.day - 15) / 30.0
    i = math.floor(pos)
    frac = pos - i
    return table[i % 12] * (1 - frac) + table[(i + 1) % 12] * frac


def simulate(station: Station, observed_at: datetime, fetched_at: datetime) -> Observation:
    """Return the simulated observation of a station at a time."""
    local = observed_at.astimezone(KST)
    t_hours = observed_at.timestamp() / 3600.0
    mean = _month_value(_MONTHLY_MEAN_C, local)
    half_range = _month_value(_MONTHLY_HALF_RANGE_C, local)
    # South is milder, much more so in winter than in summer.
    winter_weight = (math.cos(2 * math.pi * (local.month - 1) / 12) + 1) / 2
    mean += (_REF_LAT - station.lat) * (0.6 + 1.4 * winter_weight)
    mean -= station.alt_m * _LAPSE_C_PER_M
    hour = local.hour + local.minute / 60
    cloud = _smooth(station.id, "cloud", t_hours, 9.0)
    # Clouds flatten the daily cycle; the warmest hour is mid-afternoon.
    diurnal = half_range * (1 - 0.5 * cloud) * math.cos(2 * math.pi * (hour - 15) / 24)
    weather_drift = (_smooth(station.id, "synoptic", t_hours, 40.0) - 0.5) * 5.0
    temperature = round(mean + diurnal + weather_drift, 1)

    ca_tot = min(10, int(cloud * 11))
    raining = ca_tot >= 8 and _smooth(station.id, "rain", t_hours, 5.0) > 0.72
    rn = round(0.5 + 6 * _unit(station.id, "rn", math.floor(t_hours)), 1) if raining else 0.0
    humidity = min(100.0, round(45 + 40 * cloud + (15 if raining else 0), 0))
    wind = round(0.5 + 5.5 * _smooth(station.id, "wind", t_hours, 6.0), 1)
    wind_dir = float(int(_smooth(station.id, "wdir", t_hours, 12.0) * 36) * 10)
    word = _word(station.id, observed_at, temperature, ca_tot, raining=raining)
    return Observation(
        station_id=station.id,
        observed_at=observed_at,
        fetched_at=fetched_at,
        source="sim",
        temperature_c=temperature,
        condition=word.condition if word else None,
        condition_source=word.source.value if word else None,
        condition_at=word.at if word else None,
        humidity_pct=humidity,
        wind_speed_ms=wind,
        wind_dir_deg=wind_dir,
        precipitation_mm=rn,
    )


# Stations that report neither present weather nor cloud (unmanned) in KMA's hourly table: their
# precipitation comes from the minute data (one of them from the nowcast), their sky from the forecast.
UNMANNED = frozenset({98, 105, 172, 201, 226, 238, 259, 283, 294})
NOWCAST_ONLY = frozenset({226})  # its minute precipitation columns are missing in real answers


def _word(sid: int, at: datetime, ta: float, ca_tot: int, *, raining: bool) -> Word | None:
    """The word and its provenance as the real feeds would give it for this kind of station."""
    if sid not in UNMANNED:
        wc = (73 if ta <= -1 else 68 if ta < 1 else 61) if raining else None
        return decide(wc=wc, ca_tot=ca_tot, ta=ta, observed_at=at)
    if raining and sid in NOWCAST_ONLY:
        pty = 3 if ta <= -1 else 2 if ta < 1 else 1
        return decide(wc=None, ca_tot=None, ta=ta, pty=pty, pty_at=at.replace(minute=0))
    sensor = SensorReading(raining, ta, at)
    issue = at.replace(minute=30, second=0, microsecond=0)
    issue = issue if at.minute >= 45 else issue - timedelta(hours=1)
    sky = 1 if ca_tot <= 5 else 3 if ca_tot <= 8 else 4
    return decide(wc=None, ca_tot=None, ta=ta, sensor=sensor, sky=sky, sky_at=issue)


class SimSource:
    """The built-in source used when no KMA key is configured."""

    name = "sim"

    def __init__(self, *, step: timedelta = timedelta(minutes=10)) -> None:
        self._step = step

    def slot(self, now: datetime) -> datetime:
        """The newest observation time at or before ``now``."""
        step_s = int(self._step.total_seconds())
        ts = int(now.timestamp()) // step_s * step_s
        return datetime.fromtimestamp(ts, tz=KST)

    async def fetch(self, stations: Sequence[Station], now: datetime) -> list[Observation]:
        observed_at = self.slot(now)
        return [simulate(s, observed_at, now) for s in stations]

    async def close(self) -> None:
        return None
