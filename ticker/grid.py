"""Latitude/longitude to the KMA 5 km forecast grid (Lambert conformal conic, "DFS" grid)."""

from __future__ import annotations

import math

RE_KM = 6371.00877
GRID_KM = 5.0
SLAT1, SLAT2 = 30.0, 60.0
OLON, OLAT = 126.0, 38.0
XO, YO = 43, 136


def latlon_to_grid(lat: float, lon: float) -> tuple[int, int]:
    """Return the forecast grid cell (nx, ny) that contains a point."""
    deg = math.pi / 180.0
    re = RE_KM / GRID_KM
    s1, s2 = SLAT1 * deg, SLAT2 * deg
    olon, olat = OLON * deg, OLAT * deg
    sn = math.log(math.cos(s1) / math.cos(s2)) / math.log(
        math.tan(math.pi * 0.25 + s2 * 0.5) / math.tan(math.pi * 0.25 + s1 * 0.5)
    )
    sf = math.tan(math.pi * 0.25 + s1 * 0.5) ** sn * math.cos(s1) / sn
    ro = re * sf / math.tan(math.pi * 0.25 + olat * 0.5) ** sn
    ra = re * sf / math.tan(math.pi * 0.25 + lat * deg * 0.5) ** sn
    theta = lon * deg - olon
    if theta > math.pi:
        theta -= 2.0 * math.pi
    if theta < -math.pi:
        theta += 2.0 * math.pi
    theta *= sn
    nx = math.floor(ra * math.sin(theta) + XO + 0.5)
    ny = math.floor(ro - ra * math.cos(theta) + YO + 0.5)
    return nx, ny
