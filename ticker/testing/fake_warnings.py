"""The fake Hub's weather-warning answers: ``wrn_now_data.php`` and ``wrn_reg.php``, in EUC-KR.

No raw answer of either API is public. The layout is rebuilt from what is: the ``help=1`` legend
(a byte-exact EUC-KR copy kept in hunter3789/wrn_chk, src/afsWrnLayer.js), the column header and
rows that test fixtures of other clients label as real answers (UTF-8 there, re-encoded to EUC-KR
here): the 2026-07-26 header, the 2026-09-21 울릉 row (names padded to 31 and 33 EUC-KR bytes,
WRN to 6, LVL to 8), the 2026-10-08 answer with no warnings that ended after the header with no
``#7777END``, and the ``#기준시각:`` line before ``#START7777``. The wrn_reg layout (REG_KO padded
to 40 bytes) is from a captured answer in cakejin/contest_build. See docs/warnings.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ticker.models import KST
from ticker.regions import Region

ENCODING = "cp949"
RULE = "#" + "-" * 99
LEGEND = (
    RULE,
    "#  특보현황 조회",
    RULE,
    "#  1. REG_UP    : 상위 특보구역코드",
    "#  2. REG_UP_KO : 상위 특보구역명",
    "#  3. REG_ID    : 특보구역코드",
    "#  4. REG_KO    : 특보구역명",
    "#  5. TM_FC     : 발표시각(년월일시분,KST)",
    "#  6. TM_EF     : 발효시각(년월일시분,KST), 예비특보의 경우 아래와 같이 매칭하여 사용",
    "#                 - 02:59(한밤), 05:59(새벽), 08:59(아침), 11:59(늦은오전), 14:59(이른오후), "
    "17:59(늦은오후), 20:59(저녁), 23:59(늦은밤), 11:58(오전), 17:58(오후), 14:58(낮), 23:58(밤)",
    "#  7. WRN       : 특보종류",
    "#  8. LVL       : 특보수준",
    "#  9. CMD       : 특보명령",
    "# 10. ED_TM     : 예제예고 시점",
    RULE,
)
HEADER = (
    "# REG_UP  REG_UP_KO-------------------------------  REG_ID    REG_KO----------------------------------"
    "  TM_FC         TM_EF         WRN     LVL       CMD   ED_TM"
)
REG_HEADER = (
    "# REG_ID TM_ST        TM_ED        REG_SP   REG_UP   REG_KO---------------------------------- REG_NAME"
)
# Pad widths in EUC-KR bytes, from the 2026-09-21 row.
UP_KO_WIDTH, KO_WIDTH, WRN_WIDTH, LVL_WIDTH = 31, 33, 6, 8
REG_KO_WIDTH = 40


class WrnSpec(BaseModel):
    """One scripted row of wrn_now_data.php."""

    model_config = ConfigDict(extra="forbid")

    reg_up: str = ""
    reg_up_ko: str = ""
    reg_id: str
    reg_ko: str
    tm_fc: str = Field(pattern=r"^\d{12}$")
    tm_ef: str = Field(pattern=r"^\d{12}$")
    wrn: str
    lvl: str
    cmd: str = "발표"
    ed_tm: str = ""


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` bytes of EUC-KR."""
    return text + " " * max(0, width - len(text.encode(ENCODING)))


def wrn_line(row: WrnSpec) -> str:
    return (
        ", ".join(
            [
                pad(row.reg_up, 8),
                pad(row.reg_up_ko, UP_KO_WIDTH),
                row.reg_id,
                pad(row.reg_ko, KO_WIDTH),
                row.tm_fc,
                row.tm_ef,
                pad(row.wrn, WRN_WIDTH),
                pad(row.lvl, LVL_WIDTH),
                row.cmd,
                row.ed_tm or " ",
            ]
        )
        + ",="
    )


def wrn_now_body(
    rows: Sequence[WrnSpec], now: datetime, *, crlf: bool = False, end: bool | None = None
) -> bytes:
    """A whole wrn_now_data.php?help=1 answer. ``end`` None: ``#7777END`` only when there are rows."""
    lines = [f"#기준시각:{now.astimezone(KST):%Y%m%d%H%M}", "#START7777", *LEGEND, HEADER]
    lines += [wrn_line(r) for r in rows]
    if end if end is not None else bool(rows):
        lines.append("#7777END")
    newline = "\r\n" if crlf else "\n"
    return (newline.join(lines) + newline).encode(ENCODING)


def wrn_reg_body(regions: Sequence[Region]) -> bytes:
    """A wrn_reg.php?tmfc=0 answer listing ``regions`` with their validity times.

    REG_SP that no source showed is printed as 00000000 (ASSUMPTION: a placeholder).
    """
    lines = ["#START7777", REG_HEADER]
    for r in regions:
        lines.append(
            " ".join(
                [
                    r.id,
                    r.starts.astimezone(KST).strftime("%Y%m%d%H%M"),
                    r.ends.astimezone(KST).strftime("%Y%m%d%H%M"),
                    r.kind or "00000000",
                    r.parent or "00000000",
                    pad(r.name, REG_KO_WIDTH),
                    r.full_name,
                ]
            )
        )
    lines.append("#7777END")
    return ("\n".join(lines) + "\n").encode(ENCODING)
