"""Lat/lon to the KMA forecast grid: the published reference pairs."""

from __future__ import annotations

import pytest

from ticker.grid import latlon_to_grid


@pytest.mark.parametrize(
    ("lat", "lon", "cell"),
    [
        (37.5665, 126.9780, (60, 127)),
        (35.1796, 129.0756, (98, 76)),
        (37.4563, 126.7052, (55, 124)),
        (36.3504, 127.3845, (67, 100)),
        (35.1595, 126.8526, (58, 74)),
        (35.5384, 129.3114, (102, 84)),
        (37.4843, 130.9057, (127, 127)),
    ],
)
def test_reference_pairs(lat, lon, cell):
    assert latlon_to_grid(lat, lon) == cell


def test_origin_cell():
    assert latlon_to_grid(38.0, 126.0) == (43, 136)
