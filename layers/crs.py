"""Coordinate reference systems a feed may declare, converted to WGS84 on the way in.

Chinese map vendors publish GCJ-02 (Amap, Tencent) or BD-09 (Baidu); both are obfuscations of WGS84 with no
EPSG code, so pyproj cannot convert them. The GCJ-02 forward formula is public; its inverse has no closed form
and is solved here by fixed-point iteration to under a millimetre.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated

import numpy as np
import shapely
from pydantic import AfterValidator
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses
_EE = 0.00669342162296594323
_BD_PI = math.pi * 3000.0 / 180.0

Converter = Callable[[float, float], tuple[float, float]]


def _outside_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _outside_china(lon, lat):
        return lon, lat
    d_lon, d_lat = _delta(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    if _outside_china(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat, (lon, lat))


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    # The published inverse is off by up to ~15 cm; corrections against the forward formula make it exact.
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _BD_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_PI)
    return _invert(gcj02_to_bd09, lon, lat, (z * math.cos(theta), z * math.sin(theta)))


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _BD_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward: Converter, lon: float, lat: float, guess: tuple[float, float]) -> tuple[float, float]:
    """The point that `forward` maps to (lon, lat), by fixed-point iteration from `guess` (to ~1e-10 degrees)."""
    x, y = guess
    for _ in range(30):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if abs(ex) < 1e-10 and abs(ey) < 1e-10:
            break
    return x, y


def identity(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 as it is."""
    return lon, lat


def checked_crs(crs: str) -> str:
    """The CRS as given when it is one `to_wgs84` knows; ValueError naming the accepted forms."""
    to_wgs84(crs)
    return crs


# A CRS in a configuration, checked as it loads (so that an error names its line).
Crs = Annotated[str, AfterValidator(checked_crs)]


@lru_cache(maxsize=32)
def to_wgs84(crs: str) -> Converter:
    """The function that turns (lon, lat) in `crs` into WGS84. Raises ValueError for an unknown CRS."""
    name = crs.strip().lower()
    if name in ("wgs84", "epsg:4326"):
        return identity
    if name == "gcj02":
        return gcj02_to_wgs84
    if name == "bd09":
        return bd09_to_wgs84
    if name.startswith("epsg:"):
        try:
            transformer = Transformer.from_crs(name.upper(), "EPSG:4326", always_xy=True)
        except Exception as exc:
            raise ValueError(f"unknown CRS {crs!r}: {exc}") from None
        return lambda x, y: transformer.transform(x, y)
    raise ValueError(f"unknown CRS {crs!r}: use wgs84, gcj02, bd09 or EPSG:<code>")


def geometry_to_wgs84(geometry: BaseGeometry, crs: str) -> BaseGeometry:
    """A shape in `crs` drawn again in WGS84: a projection through PROJ at once for all its vertices, the
    Chinese obfuscations vertex by vertex."""
    name = crs.strip().lower()
    if name in ("wgs84", "epsg:4326"):
        return geometry
    if name.startswith("epsg:"):
        return projected(geometry, transformer(name.upper(), "EPSG:4326"))
    return each_vertex(geometry, to_wgs84(crs))


@lru_cache(maxsize=32)
def transformer(source: str, target: str) -> Transformer:
    """PROJ's transformation between two CRSs (lon, lat order), built once: building one takes milliseconds."""
    return Transformer.from_crs(source, target, always_xy=True)


def projected(geometry: BaseGeometry, through: Transformer) -> BaseGeometry:
    """The shape with all its vertices transformed at once."""
    return shapely.transform(geometry, lambda xy: np.column_stack(through.transform(xy[:, 0], xy[:, 1])))


def each_vertex(geometry: BaseGeometry, convert: Converter) -> BaseGeometry:
    """The shape with `convert` applied to each of its vertices."""
    return shapely.transform(geometry, lambda xy: np.array([convert(x, y) for x, y in xy]).reshape(-1, 2))
