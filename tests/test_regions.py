"""Warning regions: the packaged list, and stations.yaml's warning_region checked at start-up."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ticker.errors import ConfigError
from ticker.regions import KST, packaged_regions, parse_regions
from ticker.stations import load_stations

GOOD = """\
stations:
  - id: 143
    name: 대구
    name_en: Daegu
    lat: 35.87797
    lon: 128.65296
    alt_m: 53.46
    warning_region: L1140100
  - id: 159
    name: 부산
    name_en: Busan
    lat: 35.10468
    lon: 129.03203
    alt_m: 69.56
"""
REDRAWN = datetime(2026, 5, 31, 13, 30, tzinfo=KST)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_list_keeps_validity_times_across_the_2026_redraw():
    regions = packaged_regions()
    old, new = regions.rows("L1070100")[0], regions.rows("L1140100")[0]
    assert old.ends == REDRAWN.replace(minute=29) and new.starts == REDRAWN
    assert regions.valid("L1070100", REDRAWN) is None
    assert regions.valid("L1070100", REDRAWN.replace(minute=29)) is not None
    assert regions.valid("L1140100", REDRAWN).name == "대구중부"  # type: ignore[union-attr]
    assert regions.chain("L1140100", REDRAWN) == ("L1140100", "L1140000", "L1000000")
    assert regions.chain("L1073110", REDRAWN) == ("L1073110", "L1073100", "L1070000", "L1000000")
    # Every row says how sure it is.
    assert {r.confidence for r in regions.regions} <= {"confirmed", "fixture", "inferred", "assumption"}


def test_every_shipped_station_has_a_region_valid_now(stations):
    now = datetime.now(UTC)
    for station in stations:
        assert station.warning_region is not None, station.id
        assert packaged_regions().valid(station.warning_region, now) is not None
        assert station.warning_chain[0] == station.warning_region and station.warning_chain[-1] == "L1000000"
    daegu = next(s for s in stations if s.id == 143)
    assert daegu.warning_region == "L1140100"  # the confirmed post-redraw code


def test_region_list_lines_are_checked():
    with pytest.raises(ValueError, match="line 2"):
        parse_regions("# comment\nL1000000\tnope\n")


def test_good_region_loads_and_a_station_may_have_none(tmp_path):
    daegu, busan = load_stations(_write(tmp_path, GOOD))
    assert daegu.warning_chain == ("L1140100", "L1140000", "L1000000")
    assert busan.warning_region is None and busan.warning_chain == ()


@pytest.mark.parametrize(
    ("code", "now", "message"),
    [
        (
            "L11401",
            None,
            "stations[0].warning_region: must be a 특보구역 code (REG_ID) such as L1140100 (got 'L11401')",
        ),
        ("12345678", None, "stations[0].warning_region: must be a 특보구역 code"),
        ("L9999999", None, "stations[0].warning_region: L9999999 is not in the packaged region list"),
        (
            "L1070100",
            None,
            "stations[0].warning_region: L1070100 is no longer valid (KMA redrew the regions; "
            "it ended 2026-05-31 13:29 KST)",
        ),
        (
            "L1140100",
            datetime(2026, 1, 1, tzinfo=KST),
            "stations[0].warning_region: L1140100 is valid only from 2026-05-31 13:30 KST",
        ),
    ],
)
def test_bad_region_names_file_line_and_field(tmp_path, code, now, message):
    path = _write(tmp_path, GOOD.replace("L1140100", code))
    with pytest.raises(ConfigError) as info:
        load_stations(path, now=now)
    assert str(info.value).startswith(f"{path}:8: {message}"), info.value
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("code", ["L9999999", "L114-100"])
def test_start_up_with_a_bad_region_exits_2_with_one_line(tmp_path, code):
    path = _write(tmp_path, GOOD.replace("L1140100", code))
    proc = subprocess.run(
        [sys.executable, "-m", "ticker", "serve"],
        env={"TICKER_STATIONS_FILE": str(path), "TICKER_DATA_DIR": str(tmp_path / "d"), "PATH": ""},
        capture_output=True, text=True, timeout=30, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ticker: {path}:8: stations[0].warning_region: "), lines
    assert not (tmp_path / "d").exists()  # nothing started
