"""A flood of distinct valid widget variants next to a normal client, both driven by wrk.

Used by ``tests/test_attack.py`` (a short run) and ``bench/variant_flood.py`` (30 s, figures).
"""

from __future__ import annotations

import re
import subprocess
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ticker.web.render import LANGS, LAYOUTS, THEMES

# Every request asks for another subset of the stations (a bit mask counting up) and, once the
# subsets wrap, another language/theme/layout: 2**16 x 8 distinct valid variants.
FLOOD_LUA = """
local ids = {%(ids)s}
local langs = {%(langs)s}
local themes = {%(themes)s}
local layouts = {%(layouts)s}
local n = 0
request = function()
  n = n + 1
  local mask = n %% 65535 + 1
  local parts = {}
  for i, id in ipairs(ids) do
    if math.floor(mask / 2 ^ (i - 1)) %% 2 == 1 then parts[#parts + 1] = id end
  end
  local v = math.floor(n / 65535)
  local path = "/widget?stations=" .. table.concat(parts, ",")
    .. "&lang=" .. langs[v %% #langs + 1]
    .. "&theme=" .. themes[math.floor(v / #langs) %% #themes + 1]
    .. "&layout=" .. layouts[math.floor(v / (#langs * #themes)) %% #layouts + 1]
  return wrk.format("GET", path)
end
"""


def _lua_list(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def flood_script(tmp: Path, station_ids: list[int]) -> Path:
    path = tmp / "flood.lua"
    path.write_text(
        FLOOD_LUA
        % {
            "ids": ", ".join(str(i) for i in station_ids),
            "langs": _lua_list(LANGS),
            "themes": _lua_list(THEMES),
            "layouts": _lua_list(LAYOUTS),
        }
    )
    return path


@dataclass
class WrkResult:
    rps: float
    p99_ms: float
    requests: int
    non_2xx: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, *, seconds: float, connections: int, script: Path | None = None) -> WrkResult:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    if script is not None:
        args += ["-s", str(script)]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    total = re.search(r"(\d+) requests in", out)
    if done.returncode != 0 or not (rps and p99 and total):
        raise RuntimeError(f"wrk failed: {out}{done.stderr}")
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(
        rps=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
        requests=int(total.group(1)),
        non_2xx=int(non.group(1)) if non else 0,
    )


def metric(base: str, name: str) -> float:
    """One unlabelled sample from /metrics (0 when absent)."""
    with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:  # noqa: S310 - 127.0.0.1 only
        text = resp.read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


@dataclass
class FloodOutcome:
    undisturbed: WrkResult
    normal: WrkResult
    flood: WrkResult
    renders: float
    refused: float
    seconds: float

    @property
    def kept(self) -> float:
        return self.normal.rps / self.undisturbed.rps

    def lines(self) -> list[str]:
        return [
            f"normal /widget alone: {self.undisturbed.rps:,.0f} req/s, p99 {self.undisturbed.p99_ms:.2f} ms",
            f"normal /widget during the flood: {self.normal.rps:,.0f} req/s ({self.kept:.0%} kept), "
            f"p99 {self.normal.p99_ms:.2f} ms, {self.normal.non_2xx} not 2xx",
            f"flood: {self.flood.rps:,.0f} req/s of distinct variants, {self.flood.non_2xx} refused (429); "
            f"renders {self.renders:,.0f} = {self.renders / self.seconds:.1f}/s, refusals counted {self.refused:,.0f}",
        ]


def run_flood(
    base: str, tmp: Path, station_ids: list[int], *, seconds: float, connections: int = 16
) -> FloodOutcome:
    """Normal /widget alone, then the same next to the flood; renders counted by the service."""
    url = base + "/widget"
    undisturbed = wrk(url, seconds=seconds, connections=connections)
    script = flood_script(tmp, station_ids)
    renders_before = metric(base, "ticker_variant_renders_total")
    refused_before = metric(base, "ticker_variant_renders_refused_total")
    results: dict[str, WrkResult] = {}

    def flood() -> None:
        results["flood"] = wrk(base + "/", seconds=seconds, connections=connections, script=script)

    thread = threading.Thread(target=flood)
    thread.start()
    normal = wrk(url, seconds=seconds, connections=connections)
    thread.join(seconds + 60)
    return FloodOutcome(
        undisturbed=undisturbed,
        normal=normal,
        flood=results["flood"],
        renders=metric(base, "ticker_variant_renders_total") - renders_before,
        refused=metric(base, "ticker_variant_renders_refused_total") - refused_before,
        seconds=seconds,
    )
