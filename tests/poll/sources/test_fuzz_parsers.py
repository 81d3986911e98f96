"""Bounded fuzzing of both upstream parsers: arbitrary and mutated bytes, arbitrary JSON.

Nothing but the parser's own error may come out, and every call returns promptly (a hang would
blow the per-example deadline long before the test timeout).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticker.errors import UpstreamError
from ticker.models import Station
from ticker.poll.qc import check
from ticker.poll.sources.kma_text import parse_frame
from ticker.poll.sources.ultra_ncst import parse_answer, to_observation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FRAME = (FIXTURES / "sfctm2_help1_crlf.txt").read_bytes()
NCST = (FIXTURES / "ncst_ok.json").read_bytes()
NOW = datetime(2025, 7, 28, 6, 5, tzinfo=UTC)
SEOUL = Station(
    id=108,
    name="서울",
    name_en="Seoul",
    lat=37.57142,
    lon=126.9658,
    alt_m=85.67,
    nx=60,
    ny=127,
    max_age_s=7200,
    expected_interval_s=3600,
)

FUZZ = settings(
    # CI runs a bounded sample; TICKER_FUZZ_EXAMPLES=50000 makes a long run by hand.
    max_examples=int(os.environ.get("TICKER_FUZZ_EXAMPLES", "400")),
    deadline=2000,  # milliseconds: generous under load, yet a hang cannot hide
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """A real answer with bytes flipped, cut, duplicated or spliced in."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "truncate"]))
        if op == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]
        else:
            del data[pos:]
    return bytes(data)


def _frame_ok(body: bytes) -> None:
    try:
        frame = parse_frame(body)
    except UpstreamError:
        return
    for row in frame.rows:
        # No sentinel ever comes out: every value is either None or a plausible reading.
        if row.temperature_c is not None:
            assert -50 < row.temperature_c < 900
        for value in (row.humidity_pct, row.precipitation_mm, row.wind_speed_ms):
            assert value is None or value >= 0
        assert row.cloud_tenths is None or 0 <= row.cloud_tenths <= 10
        assert row.wind_dir_deg is None or 0 <= row.wind_dir_deg <= 360


@FUZZ
@given(st.binary(max_size=8192))
def test_kma_frame_arbitrary_bytes(body):
    _frame_ok(body)


@FUZZ
@given(mutated(FRAME))
def test_kma_frame_mutated_real_answer(body):
    _frame_ok(body)


def _ncst_ok(status: int, body: bytes) -> None:
    try:
        items = parse_answer(status, "application/json", body, secrets=("Sekret",))
        obs = to_observation(items, SEOUL, NOW)
    except UpstreamError:
        return
    if obs.temperature_c is not None:
        assert -900 < obs.temperature_c < 900
    check(obs, NOW)  # QC accepts or rejects; it never raises


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


@FUZZ
@given(st.integers(100, 599), st.binary(max_size=4096))
def test_ncst_arbitrary_bytes(status, body):
    _ncst_ok(status, body)


@FUZZ
@given(st.integers(100, 599), mutated(NCST))
def test_ncst_mutated_real_answer(status, body):
    _ncst_ok(status, body)


@FUZZ
@given(json_values)
def test_ncst_arbitrary_json_documents(doc):
    _ncst_ok(200, json.dumps(doc).encode())


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries(
            {"category": st.sampled_from(["T1H", "RN1", "PTY", "REH", "VEC", "WSD", "XXX"])},
            optional={
                "obsrValue": json_values,
                "baseDate": st.text(max_size=10) | st.integers(),
                "baseTime": st.text(max_size=6) | st.integers(),
            },
        ),
        min_size=1,
        max_size=10,
    )
)
def test_ncst_shaped_envelopes_with_odd_items(items):
    doc = {
        "response": {
            "header": {"resultCode": "00", "resultMsg": "NORMAL_SERVICE"},
            "body": {"items": {"item": items}},
        }
    }
    _ncst_ok(200, json.dumps(doc).encode())
