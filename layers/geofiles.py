"""Reading a city's own geographic files, whatever their format and CRS: GeoJSON, shapefile, GeoPackage, or CSV
with longitude and latitude columns; in WGS84, GCJ-02, BD-09 or any EPSG system (CGCS2000 and its Gauss–Krüger
zones among them). What comes out is in WGS84; what cannot be read is a GeoFileError naming the file, and the
feature where one is at fault.

The CRS is the configuration's when it says one, else the file's own (.prj, a GeoPackage's), else WGS84: a map
provider's export says nothing and is GCJ-02, so only the configuration can say so.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from layers.crs import geometry_to_wgs84


class GeoFileError(ValueError):
    """A geographic file that cannot be used as it is, naming the file and, where one is at fault, the feature."""


def read_frame(
    path: Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
) -> gpd.GeoDataFrame:
    """The file's features as they are (not yet in WGS84). A CSV needs the names of its `lon` and `lat` columns."""
    if not path.exists():
        raise GeoFileError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".txt"):
        return _read_csv(path, lon, lat, encoding)
    options = {"layer": layer} | ({"encoding": encoding} if encoding else {})
    try:
        return gpd.read_file(path, **options)
    except Exception as exc:  # GDAL says what it could not read, in many exception types
        raise _unreadable(path, exc) from None


def _read_csv(path: Path, lon: str | None, lat: str | None, encoding: str | None):
    if not lon or not lat:
        raise GeoFileError(f"{path}: a CSV needs the names of its longitude and latitude columns (lon = …, lat = …)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding or "utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GeoFileError(f"{path}: not a readable CSV: {exc}") from None
    missing = [c for c in (lon, lat) if c not in table.columns]
    if missing:
        raise GeoFileError(f"{path}: no column {' or '.join(repr(c) for c in missing)} (columns: "
                           f"{', '.join(table.columns)})")  # fmt: skip
    points = []
    for number, (x, y) in enumerate(zip(table[lon], table[lat], strict=True), start=2):
        try:
            points.append(shapely.Point(float(x), float(y)) if x.strip() and y.strip() else None)
        except ValueError:
            raise GeoFileError(f"{path}:{number}: {lon} {x!r} and {lat} {y!r} are no coordinates") from None
    return gpd.GeoDataFrame(table.drop(columns=[lon, lat]), geometry=points)


def file_crs(path: Path, layer: str | None = None) -> CRS | None:
    """The CRS the file declares (its .prj, a GeoPackage's), read from its header; None for none (CSV)."""
    if not path.exists():
        raise GeoFileError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".txt"):
        return None
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception as exc:  # as read_frame
        raise _unreadable(path, exc) from None
    return CRS.from_user_input(info["crs"]) if info.get("crs") else None


def _unreadable(path: Path, exc: Exception) -> GeoFileError:
    return GeoFileError(f"{path}: not a readable GeoJSON, shapefile or GeoPackage: {exc}")


def properties(frame: gpd.GeoDataFrame) -> str:
    """The properties a file's features have, to say which one to name."""
    return "properties: " + (", ".join(str(c) for c in frame.columns if c != "geometry") or "none")


def declared_crs(path: Path, configured: str | None, found: CRS | None) -> str:
    """The CRS the coordinates are in: the configuration's, else the file's own, else WGS84."""
    if configured is not None:
        return configured
    if found is None:
        return "wgs84"
    epsg = found.to_epsg()
    if epsg is None:
        raise GeoFileError(f'{path}: its CRS ({found.name}) has no EPSG code; say which with crs = "EPSG:<n>"')
    return "wgs84" if epsg == 4326 else f"EPSG:{epsg}"


def in_wgs84(geometry: BaseGeometry, crs: str, where: str) -> BaseGeometry:
    """`geometry` drawn again in WGS84, checked to lie on Earth (a projected file read as degrees does not) and
    repaired where its rings cross."""
    geometry = geometry_to_wgs84(geometry, crs)
    minx, miny, maxx, maxy = geometry.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise GeoFileError(f"{where}: its coordinates are not numbers in {crs}")
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise GeoFileError(
            f"{where}: its coordinates ({minx:.0f}, {miny:.0f}) … ({maxx:.0f}, {maxy:.0f}) are no longitudes and "
            f'latitudes once read as {crs}: the file is projected; say its CRS with crs = "EPSG:<n>"'
        )
    if geometry.is_valid:
        return geometry
    # A self-touching ring repaired may leave slivers of line beside the area; the area is what is meant.
    repaired = shapely.make_valid(geometry)
    kind = "Polygon" if "Polygon" in geometry.geom_type else None
    parts = [g for g in getattr(repaired, "geoms", [repaired]) if kind is None or kind in g.geom_type]
    return shapely.union_all(parts)


def text(value) -> str:
    """A property as text: empty for none (None, NaN, NA), an integer code a shapefile stored as a real without
    its ".0"."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
