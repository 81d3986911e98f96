"""stations.yaml: read, validated, and turned into stations; every error names file, line and field.

Each entry's position gives its forecast grid cell; its ``warning_region`` is checked against the
packaged 특보구역 list valid at start-up and expanded into the chain of regions above it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ticker.errors import ConfigError
from ticker.grid import latlon_to_grid
from ticker.models import (
    KST,
    Altitude,
    GridX,
    GridY,
    Latitude,
    Longitude,
    NameEn,
    NameKo,
    Seconds,
    Station,
    StationId,
)
from ticker.regions import REGION_CODE, RegionList, packaged_regions

_DURATION = re.compile(r"^\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")


def parse_duration(value: Any) -> int:
    """Seconds from an integer or a string such as ``90m``, ``2h``, ``1h30m`` or ``45s``."""
    if isinstance(value, bool):
        raise ValueError("expected seconds or a duration such as 90m")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        match = _DURATION.match(text)
        if match and any(match.groups()):
            h, m, s = (int(g) if g else 0 for g in match.groups())
            return h * 3600 + m * 60 + s
    raise ValueError("expected seconds or a duration such as 90m, 2h or 1h30m")


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_age: int = 2 * 3600
    expected_interval: int = 3600

    _dur = field_validator("max_age", "expected_interval", mode="before")(lambda v: parse_duration(v))


class _StationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: StationId
    name: NameKo
    name_en: NameEn
    lat: Latitude
    lon: Longitude
    alt_m: Altitude
    nx: GridX | None = None
    ny: GridY | None = None
    max_age: Seconds | None = None
    expected_interval: Seconds | None = None
    warning_region: str | None = None

    @field_validator("warning_region", mode="before")
    @classmethod
    def _region_code(cls, v: Any) -> Any:
        if v is not None and (not isinstance(v, str) or not REGION_CODE.match(v)):
            raise ValueError("must be a 특보구역 code (REG_ID) such as L1140100")
        return v

    @field_validator("max_age", "expected_interval", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("id", mode="before")
    @classmethod
    def _strict_id(cls, v: Any) -> Any:
        # "108" in YAML is a typo waiting to happen elsewhere; accept only a number.
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("station id must be a whole number (KMA ASOS id)")
        return v

    @field_validator("name", "name_en", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError("must be text")
        if v != v.strip() or any(c in v for c in "\r\n\t"):
            raise ValueError("must not have surrounding spaces or line breaks")
        return v


class _StationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: _Defaults = Field(default_factory=_Defaults)
    stations: list[_StationEntry] = Field(min_length=1)


@dataclass(frozen=True)
class _Located:
    """YAML turned into plain Python, with the line of every node by its path."""

    data: Any
    lines: Mapping[tuple[str | int, ...], int]


def _to_python(node: yaml.Node, path: tuple[str | int, ...], lines: dict[Any, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                lines[(*path, key)] = key_node.start_mark.line + 1
                msg = f"{_dotted((*path, key))}: duplicate key"
                raise _LocatedError(key_node.start_mark.line + 1, msg)
            out[key] = _to_python(value_node, (*path, key), lines)
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.SafeLoader.construct_object(_LOADER, node)


_LOADER = yaml.SafeLoader("")


class _LocatedError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _parse_yaml(text: str) -> _Located:
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = err.problem or "malformed"
        raise _LocatedError(line, f"not valid YAML: {problem}") from err
    except yaml.YAMLError as err:
        raise _LocatedError(1, f"not valid YAML: {err}") from err
    if node is None:
        raise _LocatedError(1, "the file is empty; expected a 'stations:' list")
    data = _to_python(node, (), lines)
    if not isinstance(data, dict):
        raise _LocatedError(1, "expected a mapping with a 'stations:' list at the top level")
    return _Located(data, lines)


def _line_for(located: _Located, loc: tuple[str | int, ...]) -> int:
    path = tuple(loc)
    while path:
        if path in located.lines:
            return located.lines[path]
        path = path[:-1]
    return located.lines.get((), 1)


def _first_error(located: _Located, err: ValidationError) -> tuple[int, str]:
    first = err.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    else:
        given = first.get("input")
        if isinstance(given, str | int | float) and not isinstance(given, bool):
            message += f" (got {given!r})"
    return _line_for(located, loc), f"{_dotted(loc)}: {message}"


def _region_chain(
    located: _Located, index: int, code: str | None, regions: RegionList, now: datetime
) -> tuple[str, ...]:
    """The station's warning region and those above it, valid now; a located error otherwise."""
    if code is None:
        return ()
    if regions.valid(code, now) is None:
        rows = regions.rows(code)
        if rows and min(r.starts for r in rows) > now:
            starts = min(r.starts for r in rows).astimezone(KST)
            why = f"is valid only from {starts:%Y-%m-%d %H:%M} KST (KMA's redrawn regions)"
        elif rows:
            ended = max(r.ends for r in rows).astimezone(KST)
            why = f"is no longer valid (KMA redrew the regions; it ended {ended:%Y-%m-%d %H:%M} KST)"
        else:
            why = "is not in the packaged region list (ticker/warning_regions.tsv)"
        line = _line_for(located, ("stations", index, "warning_region"))
        raise _LocatedError(line, f"stations[{index}].warning_region: {code} {why}")
    return regions.chain(code, now)


def _build(located: _Located, now: datetime) -> list[Station]:
    parsed = _StationsFile.model_validate(located.data)
    regions = packaged_regions()
    seen: dict[int, int] = {}
    stations: list[Station] = []
    for index, entry in enumerate(parsed.stations):
        id_line = _line_for(located, ("stations", index, "id"))
        if entry.id in seen:
            msg = f"stations[{index}].id: duplicate station id {entry.id} (first at line {seen[entry.id]})"
            raise _LocatedError(id_line, msg)
        seen[entry.id] = id_line
        nx, ny = latlon_to_grid(entry.lat, entry.lon)
        for axis, given, computed in (("nx", entry.nx, nx), ("ny", entry.ny, ny)):
            if given is not None and given != computed:
                line = _line_for(located, ("stations", index, axis))
                msg = (
                    f"stations[{index}].{axis}: {given} is not the grid cell of lat/lon "
                    f"(computed nx={nx}, ny={ny}; omit nx/ny to use the computed cell)"
                )
                raise _LocatedError(line, msg)
        chain = _region_chain(located, index, entry.warning_region, regions, now)
        stations.append(
            Station(
                id=entry.id,
                name=entry.name,
                name_en=entry.name_en,
                lat=entry.lat,
                lon=entry.lon,
                alt_m=entry.alt_m,
                nx=nx,
                ny=ny,
                max_age_s=entry.max_age or parsed.defaults.max_age,
                expected_interval_s=entry.expected_interval or parsed.defaults.expected_interval,
                warning_region=entry.warning_region,
                warning_chain=chain,
            )
        )
    return stations


def load_stations(path: Path, *, now: datetime | None = None) -> list[Station]:
    """Read and validate a stations file; raise ConfigError naming file, line and field.

    Warning regions are checked against the packaged list as valid at ``now`` (default: now).
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        msg = f"{path}: cannot read stations file: {err.strerror or err}"
        raise ConfigError(msg) from err
    try:
        text = raw.decode("utf-8")
        located = _parse_yaml(text)
        return _build(located, now or datetime.now(UTC))
    except UnicodeDecodeError as err:
        msg = f"{path}:1: not UTF-8 text"
        raise ConfigError(msg) from err
    except _LocatedError as err:
        msg = f"{path}:{err.line}: {err}"
        raise ConfigError(msg) from err
    except ValidationError as err:
        line, message = _first_error(located, err)
        msg = f"{path}:{line}: {message}"
        raise ConfigError(msg) from err
