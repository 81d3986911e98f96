"""The packaged list of KMA warning regions (특보구역), with their validity times. No I/O but the read."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")
REGION_CODE = re.compile(r"^[LS][0-9]{7}$")
ROOT_PARENT = "00000000"
_FIELDS = 9


@dataclass(frozen=True, slots=True)
class Region:
    """One row of the region list: a code valid from ``starts`` through the minute ``ends``.

    TM_ED is the last valid minute: retired regions end 13:29 where their successors start 13:30.
    """

    id: str
    starts: datetime
    ends: datetime
    kind: str | None  # REG_SP; None where no source showed it
    parent: str | None  # REG_UP; None at the top
    name: str  # REG_KO, the short name the feeds print
    full_name: str  # REG_NAME
    confidence: str
    source: str

    def valid_at(self, now: datetime) -> bool:
        return self.starts <= now < self.ends + timedelta(minutes=1)


def parse_time(text: str) -> datetime:
    """A KMA ``YYYYMMDDHHMI`` (KST) as an aware datetime; ValueError if it is not one."""
    msg = f"not a YYYYMMDDHHMI time: {text!r}"
    if len(text) != 12 or not text.isdigit():
        raise ValueError(msg)
    try:
        return datetime.strptime(text, "%Y%m%d%H%M").replace(tzinfo=KST)
    except ValueError:
        raise ValueError(msg) from None


def parse_regions(text: str) -> list[Region]:
    """Rows of the tab-separated region list; '#' lines are comments. ValueError names the line."""
    out: list[Region] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != _FIELDS or not REGION_CODE.match(parts[0]):
            msg = f"line {number}: expected {_FIELDS} tab-separated fields starting with a region code"
            raise ValueError(msg)
        reg_id, tm_st, tm_ed, reg_sp, reg_up, reg_ko, reg_name, confidence, source = parts
        try:
            starts, ends = parse_time(tm_st), parse_time(tm_ed)
        except ValueError as err:
            msg = f"line {number}: {err}"
            raise ValueError(msg) from err
        out.append(
            Region(
                id=reg_id,
                starts=starts,
                ends=ends,
                kind=None if reg_sp == "-" else reg_sp,
                parent=None if reg_up == ROOT_PARENT else reg_up,
                name=reg_ko,
                full_name=reg_name,
                confidence=confidence,
                source=source,
            )
        )
    return out


class RegionList:
    """Every packaged region row, looked up by code and time."""

    def __init__(self, regions: Iterable[Region]) -> None:
        self.regions = list(regions)
        self._by_id: dict[str, list[Region]] = {}
        for region in self.regions:
            self._by_id.setdefault(region.id, []).append(region)

    def rows(self, reg_id: str) -> list[Region]:
        return list(self._by_id.get(reg_id, ()))

    def valid(self, reg_id: str, now: datetime) -> Region | None:
        """The row of ``reg_id`` valid at ``now``, or None."""
        return next((r for r in self._by_id.get(reg_id, ()) if r.valid_at(now)), None)

    def chain(self, reg_id: str, now: datetime) -> tuple[str, ...]:
        """The region and its parents up to the top, as valid at ``now`` (a cycle stops the walk)."""
        out: list[str] = []
        current: str | None = reg_id
        while current is not None and current not in out:
            out.append(current)
            row = self.valid(current, now)
            current = row.parent if row is not None else None
        return tuple(out)

    def names(self, now: datetime) -> Mapping[str, str]:
        """Short names of the regions valid at ``now``."""
        return {r.id: r.name for r in self.regions if r.valid_at(now)}


@cache
def packaged_regions() -> RegionList:
    """The region list shipped with the package (ticker/warning_regions.tsv)."""
    text = resources.files("ticker").joinpath("warning_regions.tsv").read_text(encoding="utf-8")
    return RegionList(parse_regions(text))
