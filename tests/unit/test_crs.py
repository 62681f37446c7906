"""GCJ-02 and BD-09 against published reference pairs.

Reference pairs: the test vectors of googollee/eviltransform (python/test.py, MIT): WGS84 ↔ GCJ-02 in
Shanghai, Shenzhen and Beijing; BD-09 → WGS84 in Zhejiang.
"""

import math

import pytest

from layers.crs import bd09_to_wgs84, gcj02_to_wgs84, to_wgs84, wgs84_to_bd09, wgs84_to_gcj02

# wgs lat, wgs lon, gcj lat, gcj lon
WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]


def metres(lon1, lat1, lon2, lat2):
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_reference(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-6)
    assert lat == pytest.approx(glat, abs=1e-6)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), WGS_GCJ)
def test_gcj02_to_wgs84_inverts_within_a_centimetre(wlat, wlon, glat, glon):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 0.01


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), WGS_GCJ)
def test_bd09_is_gcj02_shifted_and_round_trips(wlat, wlon, glat, glon):
    # No BD-09 pair we could find is exact (eviltransform's own are made with an approximate inverse and disagree
    # by 10-40 m), so BD-09 is checked through its definition: GCJ-02 shifted by about (0.0065, 0.006) degrees,
    # and back again exactly.
    blon, blat = wgs84_to_bd09(wlon, wlat)
    assert blon - glon == pytest.approx(0.0065, abs=0.0012)
    assert blat - glat == pytest.approx(0.006, abs=0.0012)
    lon, lat = bd09_to_wgs84(blon, blat)
    assert metres(lon, lat, wlon, wlat) < 0.01


def test_offset_around_baoding_is_hundreds_of_metres():
    lon, lat = 115.4905, 38.8580
    g = wgs84_to_gcj02(lon, lat)
    assert 300 < metres(lon, lat, *g) < 700


def test_outside_china_is_unchanged():
    assert wgs84_to_gcj02(-0.1276, 51.5072) == (-0.1276, 51.5072)


def test_named_converters():
    assert to_wgs84("WGS84")(1.0, 2.0) == (1.0, 2.0)
    assert to_wgs84("gcj02") is gcj02_to_wgs84
    lon, lat = to_wgs84("EPSG:3857")(12_856_000.0, 4_701_000.0)
    assert lon == pytest.approx(115.487, abs=1e-3)
    with pytest.raises(ValueError, match="unknown CRS 'baidu'"):
        to_wgs84("baidu")
