"""Frozen data models: stations, observations and the public JSON shapes. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ticker.weather import Condition
from ticker.wrn import WarningEntry

KST = ZoneInfo("Asia/Seoul")
# How far ahead of this host's clock an observation time may be and still count as "now": clock
# skew between KMA, the poller and the web processes. A row stamped later is from the future.
MAX_CLOCK_SKEW_S = 120
ATTRIBUTION = "기상청 제공"
ATTRIBUTION_EN = "Source: KMA"
# Said in place of the KMA credit whenever a value shown comes from the simulated source.
SIM_SOURCE = "sim"
ATTRIBUTION_SIM = "모의 데이터 · 실제 날씨 아님"
ATTRIBUTION_SIM_EN = "Simulated data · not real weather"


def attribution(sources: Iterable[str | None], lang: str = "ko") -> str:
    """The credit line for values from these sources: KMA's, unless any of them is simulated."""
    simulated = any(s == SIM_SOURCE for s in sources)
    if lang == "en":
        return ATTRIBUTION_SIM_EN if simulated else ATTRIBUTION_EN
    return ATTRIBUTION_SIM if simulated else ATTRIBUTION


# A station's limits, shared by the model and by the stations.yaml entry it is built from.
StationId = Annotated[int, Field(ge=1, le=999, description="KMA ASOS station id")]
NameKo = Annotated[str, Field(min_length=1, max_length=40, description="Korean name as shown")]
NameEn = Annotated[str, Field(min_length=1, max_length=60)]
Latitude = Annotated[float, Field(ge=32.0, le=39.5)]
Longitude = Annotated[float, Field(ge=124.0, le=132.0)]
Altitude = Annotated[float, Field(ge=-10.0, le=2000.0)]
GridX = Annotated[int, Field(ge=1, le=149, description="KMA forecast grid column")]
GridY = Annotated[int, Field(ge=1, le=253, description="KMA forecast grid row")]
Seconds = Annotated[int, Field(gt=0)]


class Station(BaseModel):
    """One configured station, as validated from stations.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: StationId
    name: NameKo
    name_en: NameEn
    lat: Latitude
    lon: Longitude
    alt_m: Altitude
    nx: GridX
    ny: GridY
    max_age_s: int = Field(gt=0, description="older observations are served as stale")
    expected_interval_s: int = Field(gt=0, description="how often the upstream produces a row")
    warning_region: str | None = Field(default=None, description="특보구역 code (REG_ID) of the position")
    warning_chain: tuple[str, ...] = Field(
        default=(), description="warning_region and the regions above it; a warning on any applies"
    )


class Observation(BaseModel):
    """One station's observation after parsing and QC. Unknown values are None."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    station_id: int
    observed_at: AwareDatetime
    fetched_at: AwareDatetime
    source: str
    temperature_c: float | None = None
    condition: Condition | None = None
    humidity_pct: float | None = None
    wind_speed_ms: float | None = None
    wind_dir_deg: float | None = None
    precipitation_mm: float | None = None
    # Where the word came from (a ConditionSource value) and the time of that evidence.
    condition_source: str | None = None
    condition_at: AwareDatetime | None = None
    # The ASOS row's own word evidence, kept so the word can be decided again with other feeds.
    present_weather: int | None = None
    cloud_tenths: int | None = None
    # The newest evidence the word was decided from: a newer one replaces a stored observation
    # of the same observed_at (the word may have changed since the hourly row).
    evidence_at: AwareDatetime | None = None


class StationObservation(BaseModel):
    """One station in the JSON API."""

    id: int
    name: str
    name_en: str
    observed_at: AwareDatetime | None
    fetched_at: AwareDatetime | None = None
    temperature_c: float | None
    condition: Condition | None
    condition_label: str | None
    condition_source: str | None = Field(
        default=None, description="observed, sensor, analysis or forecast; null without a word"
    )
    condition_at: AwareDatetime | None = Field(default=None, description="time of the word's evidence")
    humidity_pct: float | None
    wind_speed_ms: float | None
    wind_dir_deg: float | None = None
    precipitation_mm: float | None
    source: str | None = None
    age_s: int | None = Field(default=None, description="seconds since observed_at")
    stale: bool
    warnings_status: Literal["ok", "unknown"] = Field(
        default="ok", description="'unknown' when the warnings feed is too old: warnings is then empty"
    )
    warnings: list[WarningEntry] = Field(
        default_factory=list, description="weather warnings in effect on the station's region, highest first"
    )


class ObservationsDocument(BaseModel):
    """The body of GET /v1/observations."""

    generated_at: AwareDatetime
    date_label: str
    attribution: str = Field(
        default=ATTRIBUTION,
        description=f"'{ATTRIBUTION}', or '{ATTRIBUTION_SIM}' when any value is simulated",
    )
    simulated: bool = Field(default=False, description="true when any value comes from the simulated source")
    version: int = Field(description="snapshot version this document was built from")
    stations: list[StationObservation]
    warnings_status: Literal["ok", "unknown"] = Field(
        default="ok", description="'unknown' when the warnings feed has not answered within its max age"
    )


class ErrorDocument(BaseModel):
    """The body of every 4xx/5xx JSON answer."""

    error: str
    message: str


WEEKDAYS_KO = ("월", "화", "수", "목", "금", "토", "일")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def date_label(now: datetime, lang: str = "ko") -> str:
    """Format the KST date line: ``2025.07.28 (월)``."""
    local = now.astimezone(KST)
    names = WEEKDAYS_EN if lang == "en" else WEEKDAYS_KO
    return f"{local:%Y.%m.%d} ({names[local.weekday()]})"
