"""Writing ``kma_sfctm2``/``kma_sfctm3`` frames: the fake API Hub's and the tests' half of ``kma_text``.

Test tooling: the service itself only parses these frames (``ticker.poll.sources.kma_text``).
"""

from __future__ import annotations

from ticker.poll.sources.kma_text import COLUMNS, ENCODING, END, START

HEADER_NAMES = (
    "# YYMMDDHHMI STN  WD   WS GST  GST  GST     PA     PS PT    PR    TA    TD    HM"
    "    PV     RN     RN     RN     RN     SD     SD     SD WC WP WW"
    "                      CA  CA   CH CT        CT  CT  CT    VS   SS    SI ST"
    "    TS    TE    TE    TE    TE  ST   WH BF IR IX"
)
HEADER_UNITS = (
    "#        KST  ID  16  m/s  WD   WS   TM    hPa    hPa  -   hPa     C     C     %"
    "   hPa     mm    DAY    JUN    INT    HR3    DAY    TOT -- -- ----------------------"
    " TOT MID  MIN -------- TOP MID LOW                  GD     C     5    10    20    30 SEA    m --  -  -"
)
RULER = "#" + "".join(str(i % 10) for i in range(2, 81))

# printf-style width of every column, as the Hub pads them.
_WIDTHS = (
    "{:12s}", "{:>4s}", "{:>4s}", "{:>5s}", "{:>4s}", "{:>5s}", "{:>5s}", "{:>7s}", "{:>7s}",
    "{:>3s}", "{:>6s}", "{:>6s}", "{:>6s}", "{:>6s}", "{:>6s}", "{:>7s}", "{:>7s}", "{:>7s}",
    "{:>7s}", "{:>7s}", "{:>7s}", "{:>7s}", "{:>3s}", "{:>3s}", " {:22s}", "{:>4s}", "{:>4s}",
    "{:>5s}", " {:8s}", "{:>4s}", "{:>4s}", "{:>4s}", "{:>6s}", "{:>5s}", "{:>6s}", "{:>3s}",
    "{:>6s}", "{:>6s}", "{:>6s}", "{:>6s}", "{:>6s}", "{:>4s}", "{:>5s}", "{:>3s}", "{:>3s}",
    "{:>3s}",
)  # fmt: skip


def format_row(values: dict[str, str]) -> str:
    """Lay out one row from already formatted tokens (every column of COLUMNS)."""
    out = ""
    for width, column in zip(_WIDTHS, COLUMNS, strict=True):
        cell = width.format(values[column])
        # A token as wide as its column would run into the one before it.
        out += cell if not out or cell.startswith(" ") else " " + cell
    return out


def format_frame(rows: list[str], *, ruler: bool = True) -> bytes:
    """A whole EUC-KR frame around already formatted rows, CRLF-free like the Hub's."""
    lines = [START]
    if ruler:
        lines.append(RULER)
    lines += [HEADER_NAMES, HEADER_UNITS, *rows, END]
    return ("\n".join(lines) + "\n").encode(ENCODING)
