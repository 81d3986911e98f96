"""wrn_now_data.php: parsing (split on commas, trimmed) and which warnings are in effect."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import ROOT
from ticker.poll.sources.wrn_text import WrnFrameError, WrnRow, in_effect, parse_wrn_now
from ticker.regions import KST, parse_time
from ticker.testing.fake_warnings import WrnSpec, wrn_line, wrn_now_body
from ticker.wrn import WeatherWarning, covering, status_at

FIXTURE = ROOT / "tests" / "fixtures" / "wrn_now_fixture_rows.euckr.txt"
NOW = datetime(2026, 12, 15, 9, 40, tzinfo=KST)


def test_fixture_rows_parse_whatever_the_padding():
    frame = parse_wrn_now(FIXTURE.read_bytes())
    assert frame.base_time == NOW
    assert len(frame.rows) == 8
    assert frame.dropped == ((26, "does not end with ',='"),)  # the broken line, and only it
    sea = frame.rows[0]
    assert (sea.reg_up, sea.reg_up_ko, sea.reg_id, sea.reg_ko) == (
        "S1250000",
        "서해중부전해상",
        "S1252010",
        "서해중부안쪽먼바다",
    )
    assert sea.ed_tm == "06일 새벽(03시~06시)"
    blank_parent = frame.rows[6]
    assert (blank_parent.reg_up, blank_parent.reg_up_ko, blank_parent.reg_id) == (None, None, "L1031920")
    ulleung = frame.rows[7]  # padded to 31/33 bytes where the others are 22/24
    assert (ulleung.reg_ko, ulleung.tm_ef, ulleung.wrn, ulleung.lvl, ulleung.cmd, ulleung.ed_tm) == (
        "울릉도.독도", "202609211758", "강풍", "예비", "발표", None,
    )  # fmt: skip


def test_missing_end_marker_is_allowed_but_a_missing_start_is_not():
    empty = wrn_now_body([], NOW)  # as the real answer with no warnings: no #7777END
    assert b"#7777END" not in empty
    assert parse_wrn_now(empty).rows == ()
    with pytest.raises(WrnFrameError):
        parse_wrn_now(b"<html>maintenance</html>")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            "L1100000, 서울, L1100400, 서울서북권, 202507281000, 202507281100, 폭염, 경보, 발표,  ,",
            "does not end",
        ),
        ("L1100000, 서울, L1100400, 서울서북권, 202507281000, 202507281100, 폭염, 경보,  ,=", "9 fields"),
        ("L1100000, 서울, L11004, 서울서북권, 202507281000, 202507281100, 폭염, 경보, 발표,  ,=", "REG_ID"),
        ("L1100000, 서울, L1100400, 서울서북권, 2025072810, 202507281100, 폭염, 경보, 발표,  ,=", "TM_FC"),
        ("L1100000, 서울, L1100400, 서울서북권, 202507281000, 202513281100, 폭염, 경보, 발표,  ,=", "time"),
        ("L1100000, 서울, L1100400, 서울서북권, 202507281000, 202507281100, 더위, 경보, 발표,  ,=", "WRN"),
        ("L1100000, 서울, L1100400, 서울서북권, 202507281000, 202507281100, 폭염, 경고, 발표,  ,=", "LVL"),
    ],
)
def test_bad_rows_are_dropped_with_a_reason(line, why):
    body = wrn_now_body([], NOW).replace(b"ED_TM\n", b"ED_TM\n" + line.encode("cp949") + b"\n")
    frame = parse_wrn_now(body)
    assert frame.rows == ()
    assert len(frame.dropped) == 1 and why in frame.dropped[0][1]


def _row(reg: str, wrn: str, lvl: str, tm_fc: str, cmd: str = "발표", tm_ef: str | None = None) -> WrnRow:
    return WrnRow(
        reg_up=None, reg_up_ko=None, reg_id=reg, reg_ko=reg, tm_fc=parse_time(tm_fc),
        tm_ef=tm_ef or tm_fc, wrn=wrn, lvl=lvl, cmd=cmd, ed_tm=None,
    )  # fmt: skip


R = "L1100400"
CASES = [
    ("one advisory", [_row(R, "폭염", "주의", "202507281000")], [("폭염", "주의")]),
    (
        "the newest TM_FC wins, up or down",
        [_row(R, "폭염", "주의", "202507270500"), _row(R, "폭염", "경보", "202507281000")],
        [("폭염", "경보")],
    ),
    (
        "order in the answer does not matter",
        [_row(R, "폭염", "경보", "202507281000"), _row(R, "폭염", "주의", "202507270500")],
        [("폭염", "경보")],
    ),
    (
        "a downgrade stands",
        [_row(R, "폭염", "경보", "202507270500"), _row(R, "폭염", "주의", "202507281000", "변경")],
        [("폭염", "주의")],
    ),
    (
        "해제 lifts",
        [_row(R, "호우", "주의", "202507280900"), _row(R, "호우", "주의", "202507281300", "해제")],
        [],
    ),
    (
        "issued again after a 해제",
        [_row(R, "호우", "주의", "202507281300", "해제"), _row(R, "호우", "경보", "202507281500")],
        [("호우", "경보")],
    ),
    (
        "kinds are separate",
        [_row(R, "호우", "주의", "202507281300"), _row(R, "강풍", "주의", "202507281000")],
        [("강풍", "주의"), ("호우", "주의")],
    ),
    (
        "a preliminary warning stands beside the advisory of the same time",
        [
            _row(R, "대설", "주의", "202612150400", "변경"),
            _row(R, "대설", "예비", "202612150400", tm_ef="202612152059"),
        ],
        [("대설", "예비"), ("대설", "주의")],
    ),
    (
        "a newer advisory ends the preliminary warning",
        [
            _row(R, "강풍", "예비", "202612150400", tm_ef="202612151758"),
            _row(R, "강풍", "주의", "202612151700"),
        ],
        [("강풍", "주의")],
    ),
    (
        "a lifted preliminary warning",
        [_row(R, "강풍", "예비", "202612150400", "해제", tm_ef="202612151758")],
        [],
    ),
    (
        "same time, same key: the higher level",
        [_row(R, "태풍", "경보", "202509060920"), _row(R, "태풍", "중대경보", "202509060920")],
        [("태풍", "중대경보")],
    ),
]


@pytest.mark.parametrize(("name", "rows", "expected"), CASES, ids=[c[0] for c in CASES])
def test_in_effect(name, rows, expected):
    assert sorted((w.kind, w.level) for w in in_effect(rows)) == sorted(expected)


def test_fixture_in_effect():
    shown = {(w.region_id, w.kind, w.level) for w in in_effect(parse_wrn_now(FIXTURE.read_bytes()).rows)}
    assert ("L1022800", "대설", "주의") not in shown  # 해제
    assert {("L1022510", "대설", "주의"), ("L1022510", "대설", "예비"), ("L1022520", "대설", "경보")} <= shown


@pytest.mark.parametrize(
    ("tm_ef", "ko", "en"),
    [
        ("202609211758", "21일 오후", "afternoon of Sep 21"),
        ("202612152059", "15일 저녁", "evening of Dec 15"),
        ("202612150558", "15일 05시 58분", "05:58 of Dec 15"),  # :58 only at 11, 14, 17, 23
        ("202612150259", "15일 한밤", "late night of Dec 15"),
    ],
)
def test_preliminary_period_from_the_legend(tm_ef, ko, en):
    row = _row("L1072100", "강풍", "예비", "202609201600", tm_ef=tm_ef)
    (warning,) = in_effect([row])
    assert warning.effective_at is None and warning.period_code == tm_ef
    assert warning.period("ko") == ko and warning.period("en") == en
    assert warning.label("ko") == "강풍 예비특보"


@pytest.mark.parametrize(
    ("kind", "level", "ko", "en"),
    [
        ("폭염", "경보", "폭염경보", "Heat wave warning"),
        ("호우", "주의", "호우주의보", "Heavy rain advisory"),
        ("태풍", "중대경보", "태풍중대경보", "Typhoon severe warning"),
        ("강풍", "예비", "강풍 예비특보", "Strong wind preliminary warning"),
    ],
)
def test_badges(kind, level, ko, en):
    w = WeatherWarning(
        kind=kind, level=level, region_id=R, region_name="서울서북권",
        issued_at=parse_time("202507281000"), command="발표",
    )  # fmt: skip
    assert (w.label("ko"), w.label("en")) == (ko, en)


def test_parent_region_and_order_and_age():
    parent = WeatherWarning(kind="호우", level="주의", region_id="L1140000", region_name="대구",
                            issued_at=parse_time("202507281200"), command="발표")  # fmt: skip
    child = parent.model_copy(update={"region_id": "L1140100", "kind": "폭염", "level": "경보"})
    other = parent.model_copy(update={"region_id": "L1140200"})
    assert covering([parent, other, child], ("L1140100", "L1140000", "L1000000")) == (child, parent)
    now = parse_time("202507281500")
    assert status_at(now.timestamp() - 1800, now, 1800) == "ok"
    assert status_at(now.timestamp() - 1801, now, 1800) == "unknown"
    assert status_at(None, now, 1800) == "unknown"


def test_fake_rows_are_the_capture_layout_byte_for_byte():
    spec = WrnSpec(reg_up="L1600000", reg_up_ko="울릉도.독도", reg_id="L1072100", reg_ko="울릉도.독도",
                   tm_fc="202609201600", tm_ef="202609211758", wrn="강풍", lvl="예비")  # fmt: skip
    captured = FIXTURE.read_bytes().decode("cp949").splitlines()[-2]
    assert wrn_line(spec) == captured
