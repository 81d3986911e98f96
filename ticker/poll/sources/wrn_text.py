"""Pure parser of the API Hub's ``wrn_now_data.php`` answer and the "in effect" rules. No I/O here.

The answer (EUC-KR) is an optional ``#기준시각:YYYYMMDDHHMI`` line, ``#START7777``, ``#`` legend and
header lines, then one row per region and warning::

    L1600000, 울릉도.독도                    , L1072100, 울릉도.독도                      , \
    202609201600, 202609211758, 강풍  , 예비    , 발표,  ,=

(one line in the answer).
``REG_UP, REG_UP_KO, REG_ID, REG_KO, TM_FC, TM_EF, WRN, LVL, CMD, ED_TM,=``. Names are padded to
widths that differ between answers, so a row is split on commas and trimmed, never sliced by
column. ``#7777END`` closes the answer, but a real answer with no warnings ended after the header
without it, so a missing end marker is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ticker.errors import UpstreamParseError
from ticker.regions import REGION_CODE, parse_time
from ticker.wrn import KINDS, LEVELS, WeatherWarning

START = "#START7777"
END = "#7777END"
ENCODING = "cp949"  # a superset of EUC-KR
FIELDS = 10
_TIME = re.compile(r"^\d{12}$")
# CMD words that end a warning. 해제 was seen in answers; 대치해제 and 변경해제 are the Hub's code
# table words for the other two lifting commands (ASSUMPTION: printed the same way).
LIFTING = frozenset({"해제", "대치해제", "변경해제"})


class WrnFrameError(UpstreamParseError):
    """A body that is not a warnings answer at all; the whole answer is rejected."""


@dataclass(frozen=True)
class WrnRow:
    """One row as sent, trimmed."""

    reg_up: str | None
    reg_up_ko: str | None
    reg_id: str
    reg_ko: str
    tm_fc: datetime
    tm_ef: str
    wrn: str
    lvl: str
    cmd: str
    ed_tm: str | None

    @property
    def lifts(self) -> bool:
        return self.cmd in LIFTING


@dataclass(frozen=True)
class WrnFrame:
    rows: tuple[WrnRow, ...]
    dropped: tuple[tuple[int, str], ...]  # (line number, why)
    base_time: datetime | None = None


def _row(line: str) -> WrnRow:
    text = line.rstrip()
    if not text.endswith(",="):
        raise ValueError("does not end with ',='")
    parts = [p.strip() for p in text[:-2].split(",")]
    if len(parts) != FIELDS:
        raise ValueError(f"{len(parts)} fields, expected {FIELDS}")
    reg_up, reg_up_ko, reg_id, reg_ko, tm_fc, tm_ef, wrn, lvl, cmd, ed_tm = parts
    if not REGION_CODE.match(reg_id):
        raise ValueError("REG_ID is not a region code")
    if reg_up and not REGION_CODE.match(reg_up):
        raise ValueError("REG_UP is not a region code")
    if not _TIME.match(tm_fc) or not _TIME.match(tm_ef):
        raise ValueError("TM_FC or TM_EF is not a YYYYMMDDHHMI time")
    if wrn not in KINDS:
        raise ValueError(f"unknown WRN {wrn!r}")
    if lvl not in LEVELS:
        raise ValueError(f"unknown LVL {lvl!r}")
    if not cmd:
        raise ValueError("empty CMD")
    parse_time(tm_ef)  # a real calendar time, even when it names a part of the day
    return WrnRow(
        reg_up=reg_up or None,
        reg_up_ko=reg_up_ko or None,
        reg_id=reg_id,
        reg_ko=reg_ko or reg_id,
        tm_fc=parse_time(tm_fc),
        tm_ef=tm_ef,
        wrn=wrn,
        lvl=lvl,
        cmd=cmd,
        ed_tm=ed_tm or None,
    )


def parse_wrn_now(body: bytes) -> WrnFrame:
    """Rows of an answer; unreadable rows are dropped and counted, a non-answer is an error."""
    text = body.decode(ENCODING, errors="replace")
    lines = text.splitlines()
    base_time = None
    start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#기준시각:"):
            value = stripped.removeprefix("#기준시각:").strip()
            base_time = parse_time(value) if _TIME.match(value) else None
        if stripped == START:
            start = i
            break
    if start is None:
        msg = f"no {START} line: not a wrn_now_data answer"
        raise WrnFrameError(msg)
    rows: list[WrnRow] = []
    dropped: list[tuple[int, str]] = []
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        stripped = line.strip()
        if stripped == END:
            break
        if not stripped or stripped.startswith("#"):
            continue
        try:
            rows.append(_row(line))
        except ValueError as err:
            dropped.append((number, str(err)))
    return WrnFrame(rows=tuple(rows), dropped=tuple(dropped), base_time=base_time)


def _key(row: WrnRow) -> tuple[str, str, bool]:
    # A preliminary warning (예비) announces a possible later one; it stands beside a current
    # advisory of the same kind (both were seen together in one answer), so it has its own key.
    return (row.reg_id, row.wrn, row.lvl == "예비")


def in_effect(rows: Iterable[WrnRow]) -> list[WeatherWarning]:
    """The warnings in effect: the newest TM_FC per region and kind wins; 해제 lifts it.

    Rows of one key with the same newest TM_FC (an answer can repeat a region) keep the highest
    level. A preliminary warning is dropped once a newer advisory or warning of the same region
    and kind was issued (ASSUMPTION: the Hub may leave it in the answer for a while).
    """
    newest: dict[tuple[str, str, bool], WrnRow] = {}
    for row in rows:
        key = _key(row)
        held = newest.get(key)
        if (
            held is None
            or row.tm_fc > held.tm_fc
            or (row.tm_fc == held.tm_fc and _tie_rank(row) > _tie_rank(held))
        ):
            newest[key] = row
    out: list[WeatherWarning] = []
    for (reg_id, wrn, preliminary), row in newest.items():
        if row.lifts:
            continue
        if preliminary:
            issued = newest.get((reg_id, wrn, False))
            if issued is not None and not issued.lifts and issued.tm_fc > row.tm_fc:
                continue
        out.append(to_warning(row))
    return out


def _tie_rank(row: WrnRow) -> tuple[int, int]:
    # Same issue time: a lifting row loses to one that keeps a warning (the warning was changed,
    # not ended), then the higher level wins.
    return (0 if row.lifts else 1, LEVELS[row.lvl][0])


def to_warning(row: WrnRow) -> WeatherWarning:
    preliminary = row.lvl == "예비"
    return WeatherWarning(
        kind=row.wrn,
        level=row.lvl,
        region_id=row.reg_id,
        region_name=row.reg_ko,
        parent_region_id=row.reg_up,
        parent_region_name=row.reg_up_ko,
        issued_at=row.tm_fc,
        effective_at=None if preliminary else parse_time(row.tm_ef),
        period_code=row.tm_ef if preliminary else None,
        command=row.cmd,
        planned_end=row.ed_tm,
    )
