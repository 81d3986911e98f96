"""Pure parser of the API Hub's ``kma_sfctm2.php`` text frame (ASOS hourly, 46 columns). No I/O here.

The frame is ``#START7777``, ``#`` header lines, one fixed-width row per station and ``#7777END``,
in EUC-KR. Missing values are sentinels chosen per field, so each field is read by its own rule:
``-9.0`` is a real temperature, ``-99.0`` (anything at or below -50) is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ticker.errors import UpstreamParseError
from ticker.models import KST

START = "#START7777"
END = "#7777END"
ENCODING = "cp949"  # a superset of EUC-KR; data rows are ASCII, only legends carry Korean

COLUMNS = (
    "TM", "STN", "WD", "WS", "GST_WD", "GST_WS", "GST_TM", "PA", "PS", "PT", "PR", "TA", "TD",
    "HM", "PV", "RN", "RN_DAY", "RN_JUN", "RN_INT", "SD_HR3", "SD_DAY", "SD_TOT", "WC", "WP",
    "WW", "CA_TOT", "CA_MID", "CH_MIN", "CT", "CT_TOP", "CT_MID", "CT_LOW", "VS", "SS", "SI",
    "ST_GD", "TS", "TE_005", "TE_01", "TE_02", "TE_03", "ST_SEA", "WH", "BF", "IR", "IX",
)  # fmt: skip
FIELD_COUNT = len(COLUMNS)
INDEX = {name: i for i, name in enumerate(COLUMNS)}

# Temperatures at or below this are KMA's missing markers (-99.0, -999.0), never readings.
TEMPERATURE_MISSING_AT_OR_BELOW = -50.0
# KMA marks some missing values as 900 and more (the forecast guide's rule); no reading gets there.
MISSING_AT_OR_ABOVE = 900.0

# A plain decimal: float() would also take "nan", "inf", "1e3" and "1_000".
NUMBER = re.compile(r"^[+-]?\d{1,6}(?:\.\d{1,4})?$")
_TM = re.compile(r"^\d{12}$")
_STN = re.compile(r"^\d{1,3}$")


class KmaFrameError(UpstreamParseError):
    """A body that is not a complete sfctm2 frame; the whole answer is rejected."""


class _BadRow(ValueError):
    """One row that cannot be read; it is dropped and the rest are kept."""


@dataclass(frozen=True)
class SfcRow:
    """One station's hourly row with every sentinel turned into None."""

    observed_at: datetime
    station_id: int
    wind_dir_deg: float | None
    wind_speed_ms: float | None
    temperature_c: float | None
    dew_point_c: float | None
    humidity_pct: float | None
    precipitation_mm: float | None  # RN: the last hour (three hours in some winter hours)
    present_weather: int | None  # WC, WMO 4677
    cloud_tenths: int | None  # CA_TOT, 0-10


@dataclass(frozen=True)
class Dropped:
    """A data line that was not a usable row, with its line number and why."""

    line_no: int
    reason: str


@dataclass(frozen=True)
class Frame:
    """A complete frame: the rows read and the data lines dropped."""

    rows: tuple[SfcRow, ...]
    dropped: tuple[Dropped, ...]


def _number(token: str, column: str) -> float:
    if not NUMBER.match(token):
        raise _BadRow(f"{column} is not a number")
    return float(token)


def _temperature(token: str, column: str) -> float | None:
    value = _number(token, column)
    if value <= TEMPERATURE_MISSING_AT_OR_BELOW or value >= MISSING_AT_OR_ABOVE:
        return None
    return value + 0.0  # no "-0.0"


def _non_negative(token: str, column: str) -> float | None:
    # Amounts, speeds and humidity cannot be negative: -9, -9.0, -99.0 all mean "not reported".
    value = _number(token, column)
    return None if value < 0 or value >= MISSING_AT_OR_ABOVE else value + 0.0


def _code(low: int, high: int) -> Callable[[str, str], int | None]:
    def read(token: str, column: str) -> int | None:
        value = _number(token, column)
        if value != int(value) or not low <= value <= high:
            return None  # -9 is "not observed"; anything else outside the table is unusable
        return int(value)

    return read


def _wind_dir(token: str, column: str) -> float | None:
    # Tens of degrees (36 points): 18 is 180°, 36 is north, 0 goes with calm.
    tens = _code(0, 36)(token, column)
    return None if tens is None else float(tens * 10)


def _observed_at(token: str) -> datetime:
    if not _TM.match(token):
        raise _BadRow("TM is not YYYYMMDDHHMI")
    try:
        return datetime.strptime(token, "%Y%m%d%H%M").replace(tzinfo=KST)
    except ValueError as err:
        raise _BadRow("TM is not a valid time") from err


def parse_row(line: str) -> SfcRow:
    """Read one data line; raise ValueError when it is not a usable 46-field row."""
    tokens = line.split()
    if len(tokens) != FIELD_COUNT:
        raise _BadRow(f"{len(tokens)} fields, expected {FIELD_COUNT}")

    def get(column: str) -> str:
        return tokens[INDEX[column]]

    stn = get("STN")
    if not _STN.match(stn) or int(stn) == 0:
        raise _BadRow("STN is not a station number")
    return SfcRow(
        observed_at=_observed_at(get("TM")),
        station_id=int(stn),
        wind_dir_deg=_wind_dir(get("WD"), "WD"),
        wind_speed_ms=_non_negative(get("WS"), "WS"),
        temperature_c=_temperature(get("TA"), "TA"),
        dew_point_c=_temperature(get("TD"), "TD"),
        humidity_pct=_non_negative(get("HM"), "HM"),
        precipitation_mm=_non_negative(get("RN"), "RN"),
        present_weather=_code(0, 99)(get("WC"), "WC"),
        cloud_tenths=_code(0, 10)(get("CA_TOT"), "CA_TOT"),
    )


def _lines(body: bytes) -> list[str]:
    # Split on bytes first: a broken multi-byte sequence then spoils one line, not the frame.
    out = []
    for raw in body.split(b"\n"):
        text = raw.decode(ENCODING, errors="replace").replace("\x00", "\ufffd")
        out.append(text.strip().removeprefix("\ufeff").strip())
    return out


def parse_frame(body: bytes) -> Frame:
    """Parse a whole answer; raise KmaFrameError unless it is one complete frame."""
    numbered = [(n, line) for n, line in enumerate(_lines(body), start=1) if line]
    if not numbered:
        msg = "empty body, expected a #START7777 frame"
        raise KmaFrameError(msg)
    if numbered[0][1] != START:
        msg = "not a KMA text frame (no #START7777 at the top)"
        raise KmaFrameError(msg)
    if numbered[-1][1] != END:
        ends = [n for n, line in numbered if line == END]
        msg = "data after #7777END" if ends else "truncated frame (no #7777END)"
        raise KmaFrameError(msg)
    rows: list[SfcRow] = []
    dropped: list[Dropped] = []
    for line_no, line in numbered[1:-1]:
        if line.startswith("#"):
            continue
        try:
            rows.append(parse_row(line))
        except _BadRow as err:
            dropped.append(Dropped(line_no, str(err)))
    return Frame(rows=tuple(rows), dropped=tuple(dropped))


# ---------------------------------------------------------------------------------------------
# Writing rows: the fake upstream and the tests speak the same layout the Hub sends.
