"""The reference layers a command centre keeps on its map (`[[layers]]`): shelters (应急避难场所), hospitals,
schools, hydrants, known waterlogging points (易涝点), reservoirs, key sites. Each is read once at start-up from the
city's own file (GeoJSON, shapefile, GeoPackage, or CSV with longitude and latitude columns, in any CRS that
`layers.geofiles` reads) and answers "what of it lies within so many metres of here": for rules (`near:`) and for
an incident's detail ("3 schools within 1 km").

Distances are measured in an azimuthal equidistant projection centred on the city: true from its centre, within a
fraction of a percent across a city.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from layers.crs import Crs, projected, transformer
from layers.geofiles import GeoFileError, declared_crs, in_wgs84, properties, read_frame, text

Kind = Literal["shelter", "hospital", "school", "hydrant", "waterlogging", "reservoir", "key_site", "other"]


class ReferenceLayerSettings(BaseModel):
    """One reference layer and the file that draws it."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    name_zh: str
    name_en: str
    kind: Kind = "other"
    file: Path
    crs: Crs | None = None  # wgs84, gcj02, bd09 or EPSG:<n>; unset: the file's own, else WGS84
    layer: str | None = None  # the layer of a GeoPackage holding several
    encoding: str | None = None  # of a shapefile without a .cpg, or of a CSV not in UTF-8 (e.g. "gbk")
    lon: str | None = None  # a CSV's longitude column
    lat: str | None = None  # … and latitude column
    name: str = "name"  # the property holding each place's name


@dataclass(frozen=True)
class Place:
    name: str
    geometry: BaseGeometry = field(repr=False, compare=False)  # WGS84


@dataclass
class Nearby:
    """What of one layer lies near a place, nearest first."""

    layer: ReferenceLayer
    places: list[tuple[Place, float]]  # each with its distance in metres


class ReferenceLayer:
    def __init__(self, settings: ReferenceLayerSettings, places: list[Place], to_metres: Transformer):
        self.settings = settings
        self.places = places
        self._to_metres = to_metres
        self._flat = [projected(p.geometry, to_metres) for p in places]
        self._tree = shapely.STRtree(self._flat)

    @property
    def id(self) -> str:
        return self.settings.id

    def name(self, lang: str) -> str:
        return self.settings.name_zh if lang.startswith("zh") else self.settings.name_en

    def within(self, geometry: BaseGeometry, metres: float) -> list[tuple[Place, float]]:
        """The places within `metres` of `geometry` (WGS84), nearest first, with their distances."""
        flat = projected(geometry, self._to_metres)
        hits = self._tree.query(flat, predicate="dwithin", distance=metres)
        found = [(self.places[int(i)], float(shapely.distance(flat, self._flat[int(i)]))) for i in hits]
        return sorted(found, key=lambda pair: pair[1])

    def near_points(self, lons: np.ndarray, lats: np.ndarray, metres: float) -> np.ndarray:
        """For each point (NaN: none), whether any place of this layer lies within `metres` of it."""
        near = np.zeros(len(lons), dtype=bool)
        placed = ~(np.isnan(lons) | np.isnan(lats))
        if placed.any():
            x, y = self._to_metres.transform(lons[placed], lats[placed])
            points = shapely.points(np.asarray(x), np.asarray(y))
            hit, _ = self._tree.query(points, predicate="dwithin", distance=metres)
            flags = np.zeros(len(points), dtype=bool)
            flags[np.unique(hit)] = True
            near[placed] = flags
        return near

    def feature_collection(self, lang: str, within: BaseGeometry | None = None) -> dict:
        """The layer as GeoJSON (its places in `within` only, when given), each place with its name, and the
        layer's kind and name for the map's tooltip."""
        name = self.name(lang)
        places = self.places if within is None else [p for p in self.places if within.intersects(p.geometry)]
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": shapely.geometry.mapping(shapely.set_precision(p.geometry, 1e-6)),
                 "properties": {"name": p.name, "layer": name, "kind": self.settings.kind}}
                for p in places
            ],
        }  # fmt: skip


class ReferenceLayers:
    """The city's reference layers, by id."""

    def __init__(self, layers: Sequence[ReferenceLayer] = ()):
        self._by_id = {layer.id: layer for layer in layers}

    def __iter__(self) -> Iterator[ReferenceLayer]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, layer_id: str) -> ReferenceLayer | None:
        return self._by_id.get(layer_id)

    def nearby(self, geometry: BaseGeometry, metres: float) -> list[Nearby]:
        """Each layer with places within `metres` of `geometry`."""
        found = [Nearby(layer, layer.within(geometry, metres)) for layer in self]
        return [n for n in found if n.places]


def load_reference_layers(settings: Sequence[ReferenceLayerSettings], centre: tuple[float, float]) -> ReferenceLayers:
    """Every configured layer, read from its file (GeoFileError naming the file and the feature)."""
    lon, lat = centre
    to_metres = transformer("EPSG:4326", f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    return ReferenceLayers([ReferenceLayer(s, read_places(s), to_metres) for s in settings])


def read_places(spec: ReferenceLayerSettings) -> list[Place]:
    frame = read_frame(spec.file, layer=spec.layer, encoding=spec.encoding, lon=spec.lon, lat=spec.lat)
    crs = declared_crs(spec.file, spec.crs, frame.crs)
    if spec.name not in frame.columns:
        raise GeoFileError(f"{spec.file}: no property {spec.name!r} for the places' names ({properties(frame)}); "
                           f"say which with name = …")  # fmt: skip
    places = []
    for number, (name, geometry) in enumerate(zip(frame[spec.name], frame.geometry, strict=True), start=1):
        if geometry is None or geometry.is_empty:
            continue  # a row without a place (a CSV's empty coordinates): nothing to draw or measure
        where = f"{spec.file}: feature {number}"
        places.append(Place(text(name) or f"{spec.id} {number}", in_wgs84(geometry, crs, where)))
    if not places:
        raise GeoFileError(f"{spec.file}: no feature with a place")
    return places
