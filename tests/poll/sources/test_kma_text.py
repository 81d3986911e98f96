"""The sfctm2 frame parser: frames, rows, per-field sentinels, and properties over arbitrary input."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticker.errors import UpstreamParseError
from ticker.models import KST
from ticker.poll.sources.kma_text import (
    COLUMNS,
    END,
    FIELD_COUNT,
    START,
    KmaFrameError,
    parse_frame,
    parse_row,
)
from ticker.testing.rows import format_frame, format_row

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BOUNDED = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A captured row (광주 156, 2026-08-18 15:00 KST), split into its 46 tokens.
LIVE = (
    "202608181500 156  25  1.3  -9 -9.0   -9 1001.7 1009.5  7  -0.9  33.7  23.3  55.0  28.6"
    "   -9.0   -9.0   -9.0   -9.0   -9.0   -9.0   -9.0 -9 -9 -"
    "                        0   0   -9 -         -9  -9  -9  4134  0.5  1.88 -9  45.4"
    " -99.0 -99.0 -99.0 -99.0  -9 -9.0 -9  3  2"
)
BASE = dict(zip(COLUMNS, LIVE.split(), strict=True))


def row_with(**tokens: str) -> str:
    return format_row({**BASE, **tokens})


def frame_of(*lines: str, sep: str = "\n") -> bytes:
    return (sep.join([START, *lines, END]) + sep).encode("cp949")


def test_the_writer_lays_out_a_row_byte_for_byte_like_the_hub():
    assert format_row(BASE) == LIVE


def test_a_captured_row_reads_field_by_field():
    row = parse_row(LIVE)
    assert row.station_id == 156
    assert row.observed_at == datetime(2026, 8, 18, 15, 0, tzinfo=KST)
    assert row.wind_dir_deg == 250.0  # tens of degrees
    assert row.wind_speed_ms == 1.3
    assert row.temperature_c == 33.7
    assert row.dew_point_c == 23.3
    assert row.humidity_pct == 55.0
    assert row.precipitation_mm is None  # -9.0: nothing reported
    assert row.present_weather is None  # -9
    assert row.cloud_tenths == 0


def test_the_help0_fixture_frame():
    frame = parse_frame((FIXTURES / "sfctm2_help0.txt").read_bytes())
    assert [r.station_id for r in frame.rows] == [156, 108, 159, 143]
    seoul, busan = frame.rows[1], frame.rows[2]
    assert seoul.temperature_c == -9.0 and seoul.present_weather == 71
    assert busan.temperature_c is None and busan.humidity_pct is None
    assert frame.dropped == ()


def test_a_help1_legend_in_euc_kr_with_crlf_line_ends():
    body = (FIXTURES / "sfctm2_help1_crlf.txt").read_bytes()
    assert b"\r\n" in body and "기상청".encode("euc-kr") in body
    frame = parse_frame(body)
    assert [r.station_id for r in frame.rows] == [156, 108]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"   \n\n", "empty body"),
        (START.encode() + b"\n", "truncated"),
        (frame_of(LIVE)[: -len(END) - 1], "truncated"),
        (frame_of(LIVE)[:-60], "truncated"),
        (LIVE.encode() + b"\n" + END.encode(), "no #START7777"),
        (frame_of(LIVE) + LIVE.encode() + b"\n", "data after #7777END"),
        ((FIXTURES / "hub_401.json").read_bytes(), "no #START7777"),
        ((FIXTURES / "maintenance.html").read_bytes(), "no #START7777"),
    ],
    ids=[
        "empty",
        "blank",
        "start-only",
        "no-end",
        "cut-mid-row",
        "no-start",
        "after-end",
        "json",
        "html",
    ],
)
def test_incomplete_frames_are_rejected_whole(body: bytes, message: str):
    with pytest.raises(KmaFrameError, match=message):
        parse_frame(body)


def test_an_empty_frame_is_complete_but_has_no_rows():
    frame = parse_frame(frame_of())
    assert frame.rows == () and frame.dropped == ()


def test_bad_rows_are_dropped_and_the_rest_kept():
    good_108 = row_with(STN="108")
    lines = [
        "# a comment line between rows",
        "",
        LIVE.rsplit(" ", 1)[0],  # 45 fields
        good_108,
        LIVE + " 9",  # 47 fields
        row_with(TM="2026081815"),  # short TM
        row_with(TM="202613181500"),  # month 13
        row_with(STN="abc"),
        row_with(STN="0"),
        row_with(TA="3x.1"),
        row_with(TA="nan"),
        row_with(WS="inf"),
        row_with(HM="1e3"),
        row_with(STN="159"),
    ]
    frame = parse_frame(frame_of(*lines, sep="\r\n"))
    assert [r.station_id for r in frame.rows] == [108, 159]
    reasons = [d.reason for d in frame.dropped]
    assert reasons == [
        "45 fields, expected 46",
        "47 fields, expected 46",
        "TM is not YYYYMMDDHHMI",
        "TM is not a valid time",
        "STN is not a station number",
        "STN is not a station number",
        "TA is not a number",
        "TA is not a number",
        "WS is not a number",
        "HM is not a number",
    ]
    assert frame.dropped[0].line_no == 4


# Every field's sentinel rule: (column, token, attribute, expected value).
SENTINELS = [
    ("TA", "-9.0", "temperature_c", -9.0),
    ("TA", "-99.0", "temperature_c", None),
    ("TA", "-50.0", "temperature_c", None),
    ("TA", "-49.9", "temperature_c", -49.9),
    ("TA", "-999.0", "temperature_c", None),
    ("TA", "0.0", "temperature_c", 0.0),
    ("TA", "-0.0", "temperature_c", 0.0),
    ("TA", "999.0", "temperature_c", None),
    ("TD", "-9.0", "dew_point_c", -9.0),
    ("TD", "-99.0", "dew_point_c", None),
    ("WS", "-9.0", "wind_speed_ms", None),
    ("WS", "0.0", "wind_speed_ms", 0.0),
    ("WS", "12.5", "wind_speed_ms", 12.5),
    ("HM", "-9.0", "humidity_pct", None),
    ("HM", "-99.0", "humidity_pct", None),
    ("HM", "100.0", "humidity_pct", 100.0),
    ("RN", "-9.0", "precipitation_mm", None),
    ("RN", "0.0", "precipitation_mm", 0.0),
    ("RN", "3.5", "precipitation_mm", 3.5),
    ("WD", "-9", "wind_dir_deg", None),
    ("WD", "0", "wind_dir_deg", 0.0),
    ("WD", "18", "wind_dir_deg", 180.0),
    ("WD", "36", "wind_dir_deg", 360.0),
    ("WD", "37", "wind_dir_deg", None),
    ("WC", "-9", "present_weather", None),
    ("WC", "0", "present_weather", 0),
    ("WC", "99", "present_weather", 99),
    ("WC", "100", "present_weather", None),
    ("CA_TOT", "-9", "cloud_tenths", None),
    ("CA_TOT", "0", "cloud_tenths", 0),
    ("CA_TOT", "10", "cloud_tenths", 10),
    ("CA_TOT", "11", "cloud_tenths", None),
    ("CA_TOT", "5.5", "cloud_tenths", None),
]


@pytest.mark.parametrize(("column", "token", "attribute", "expected"), SENTINELS)
def test_sentinels_are_read_per_field(column: str, token: str, attribute: str, expected: float | None):
    row = parse_row(row_with(**{column: token}))
    assert getattr(row, attribute) == expected


def test_fields_the_ticker_does_not_use_may_hold_anything():
    row = parse_row(row_with(WW="0405", CT="ScAc", PA="-999.0", TE_005="x"))
    assert row.temperature_c == 33.7


# --- properties -------------------------------------------------------------------------------


@BOUNDED
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_the_parsers_own_error(body: bytes):
    try:
        frame = parse_frame(body)
    except KmaFrameError:
        return
    assert len(frame.rows) + len(frame.dropped) <= body.count(b"\n") + 1


@BOUNDED
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_arbitrary_lines_inside_a_frame_never_break_the_frame(lines: list[bytes]):
    body = b"\n".join([START.encode(), *(x.replace(b"\n", b" ") for x in lines), END.encode()])
    frame = parse_frame(body)  # a complete frame: bad lines are dropped, never raised
    assert len(frame.rows) + len(frame.dropped) <= len(lines)


def _number_token(value: float | int) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


SENTINEL_VALUES = [-9, -9.0, -99.0, -99.9, -999.0, -50.0, -9.00]
any_value = st.one_of(
    st.sampled_from(SENTINEL_VALUES),
    st.floats(min_value=-1000, max_value=1000, allow_nan=False).map(lambda v: round(v, 1)),
    st.integers(min_value=-999, max_value=999),
)


@BOUNDED
@given(st.fixed_dictionaries({c: any_value for c in ("WD", "WS", "TA", "TD", "HM", "RN", "WC", "CA_TOT")}))
def test_no_sentinel_ever_comes_out(values: dict[str, float | int]):
    row = parse_row(row_with(**{k: _number_token(v) for k, v in values.items()}))
    for temperature in (row.temperature_c, row.dew_point_c):
        assert temperature is None or -50 < temperature < 900
    for amount in (row.wind_speed_ms, row.humidity_pct, row.precipitation_mm):
        assert amount is None or 0 <= amount < 900
    assert row.wind_dir_deg is None or 0 <= row.wind_dir_deg <= 360
    assert row.present_weather is None or 0 <= row.present_weather <= 99
    assert row.cloud_tenths is None or 0 <= row.cloud_tenths <= 10


@BOUNDED
@given(st.integers(min_value=-499, max_value=500).map(lambda tenths: tenths / 10))
def test_every_real_temperature_survives_minus_nine_included(ta: float):
    frame = parse_frame(format_frame([row_with(TA=f"{ta:.1f}")]))
    assert frame.rows[0].temperature_c == ta


def test_minus_nine_survives_explicitly():
    assert parse_frame(format_frame([row_with(TA="-9.0", TD="-9.0")])).rows[0].temperature_c == -9.0


def test_the_frame_error_is_an_upstream_parse_error():
    assert issubclass(KmaFrameError, UpstreamParseError)
    assert KmaFrameError.kind == "parse"
    assert FIELD_COUNT == 46
