"""stations.yaml validation: one clear line naming file, line and field; exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from ticker.config import Settings
from ticker.errors import ConfigError
from ticker.stations import load_stations, parse_duration

GOOD = """\
defaults:
  max_age: 2h
stations:
  - id: 108
    name: 서울
    name_en: Seoul
    lat: 37.57142
    lon: 126.9658
    alt_m: 85.67
    nx: 60
    ny: 127
  - id: 159
    name: 부산
    name_en: Busan
    lat: 35.10468
    lon: 129.03203
    alt_m: 69.56
    max_age: 90m
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_stations_are_the_sixteen_in_order(stations):
    assert [(s.id, s.name) for s in stations] == [
        (98, "동두천"),
        (105, "강릉"),
        (108, "서울"),
        (133, "대전"),
        (143, "대구"),
        (152, "울산"),
        (156, "광주"),
        (159, "부산"),
        (172, "고창"),
        (184, "제주"),
        (201, "강화"),
        (226, "보은"),
        (238, "금산"),
        (259, "강진군"),
        (283, "경주시"),
        (294, "거제"),
    ]
    seoul = next(s for s in stations if s.id == 108)
    assert (seoul.nx, seoul.ny) == (60, 127)
    assert (seoul.lat, seoul.lon, seoul.alt_m) == (37.57142, 126.9658, 85.67)
    assert all(s.name_en and s.max_age_s > 0 for s in stations)


def test_station_facts_match_the_kma_station_list(stations):
    # KMA's list of ASOS stations (id, Korean name, lat, lon, altitude), as published.
    table = ROOT / "tests" / "fixtures" / "asos-stations.tsv"
    facts = {}
    for line in table.read_text(encoding="utf-8").splitlines()[1:]:
        stn, name, lat, lon, alt = line.split("\t")
        facts[int(stn)] = (name, float(lat), float(lon), float(alt))
    for s in stations:
        assert facts[s.id] == (s.name, s.lat, s.lon, s.alt_m), s.id


def test_good_file_loads_with_defaults_and_computed_grid(tmp_path):
    seoul, busan = load_stations(_write(tmp_path, GOOD))
    assert seoul.max_age_s == 7200 and busan.max_age_s == 5400
    assert (busan.nx, busan.ny) == (97, 74)  # computed from lat/lon when omitted


@pytest.mark.parametrize(
    ("mutate", "line", "field"),
    [
        (lambda t: t.replace("id: 159", "id: abc"), 12, "stations[1].id"),
        (lambda t: t.replace("id: 159", "id: 1080"), 12, "stations[1].id"),
        (lambda t: t.replace("    name: 부산\n", ""), 12, "stations[1].name"),
        (
            lambda t: t.replace("id: 159", "id: 108"),
            12,
            "stations[1].id: duplicate station id 108 (first at line 4)",
        ),
        (lambda t: t.replace("nx: 60", "nx: 61"), 10, "stations[0].nx"),
        (lambda t: t.replace("lat: 35.10468", "lat: 95.1"), 15, "stations[1].lat"),
        (lambda t: t.replace("max_age: 90m", "max_age: soon"), 18, "stations[1].max_age"),
        (lambda t: t.replace("max_age: 90m", "max_agee: 90m"), 18, "stations[1].max_agee: unknown field"),
        (lambda t: t.replace("  - id: 108", "  - id: 108\n    id: 109"), 5, "stations[0].id: duplicate key"),
        (lambda t: "stations: [\n  {id: 1,\n", 3, "not valid YAML"),
        (lambda t: "just some words\n", 1, "expected a mapping"),
        (lambda t: "", 1, "the file is empty"),
        (lambda t: "stations: []\n", 1, "stations"),
    ],
)
def test_bad_files_name_file_line_and_field(tmp_path, mutate, line, field):
    path = _write(tmp_path, mutate(GOOD))
    with pytest.raises(ConfigError) as info:
        load_stations(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert field in message
    assert "\n" not in message


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read stations file"):
        load_stations(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(3600, 3600), ("3600", 3600), ("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("45s", 45)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "", "h", True, 1.5])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("command", [["serve"], ["poll", "--once"], ["check"]])
def test_cli_exits_2_with_one_line_for_a_bad_file(tmp_path, command):
    path = _write(tmp_path, GOOD.replace("id: 159", "id: 108"))
    proc = subprocess.run(
        [sys.executable, "-m", "ticker", *command],
        env={"TICKER_STATIONS_FILE": str(path), "TICKER_DATA_DIR": str(tmp_path / "d"), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"ticker: {path}:12: stations[1].id: duplicate station id 108 (first at line 4)"]
    assert not (tmp_path / "d").exists()  # nothing started


def test_cli_exits_2_for_a_bad_setting(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ticker", "check"],
        env={"TICKER_PORT": "eighty", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("ticker: configuration: TICKER_PORT:")


def test_blank_secrets_and_source_mean_unset(monkeypatch):
    # What `TICKER_KMA_AUTH_KEY: ${TICKER_KMA_AUTH_KEY:-}` in a compose file gives without a key.
    for name in ("TICKER_KMA_AUTH_KEY", "TICKER_FALLBACK_AUTH_KEY", "TICKER_REDIS_URL", "TICKER_SOURCE"):
        monkeypatch.setenv(name, " ")
    settings = Settings(_env_file=None)
    assert settings.kma_auth_key is None and settings.fallback_auth_key is None
    assert settings.redis_url is None and settings.source is None
    assert settings.effective_source == "sim"
