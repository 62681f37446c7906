"""Small maps inside the views: one region's outline and its parts, with what is open there.

The same map functions as the wall (assets/cityops_map.js), so colours and clicks mean the same everywhere: a part
is coloured by its status (grey dashed when it has no data), a click on a part or an alert drills down.
"""

from __future__ import annotations

import dash_leaflet as dl

from layers.geojson import bounds, feature_collection, region_feature
from layers.reference import ReferenceLayer, ReferenceLayers
from layers.regions import Region, RegionIndex


def _fn(name: str) -> dict:
    return {"variable": f"cityops.map.{name}"}


def reference_layer(layer: ReferenceLayer, url: str | None = None, data: dict | None = None) -> dl.GeoJSON:
    """A reference layer as every map draws it, by URL (the wall) or with its features (a small map)."""
    source = {"url": url} if url is not None else {"data": data}
    return dl.GeoJSON(**source, pointToLayer=_fn("referenceToLayer"), style=_fn("referenceStyle"),
                      onEachFeature=_fn("referenceEachFeature"))  # fmt: skip


def reference_overlays(reference: ReferenceLayers, region: Region, lang: str) -> list:
    """A switch for each reference layer with places in `region`, off until turned on, those places only."""
    overlays = []
    for layer in reference:
        document = layer.feature_collection(lang, within=region.geometry)
        if document["features"]:
            overlays.append(dl.Overlay(reference_layer(layer, data=document), name=layer.name(lang), checked=False))
    return [dl.LayersControl(overlays, collapsed=True, position="topright")] if overlays else []


def minimap(
    map_id: str,
    regions: RegionIndex,
    region: Region,
    lang: str,
    *,
    part_status: dict[str, str] | None = None,
    alerts: list[dict] | None = None,
    extra: list | None = None,
    interactive: bool = True,
) -> dl.Map:
    """`region` framed, its parts drawn (coloured by `part_status`, status codes by region id), `alerts` as
    markers (features as /api/layers/alerts.geojson gives them); `extra` layers go on top."""
    parts = regions.parts(region) or [region]
    return dl.Map(
        id=map_id,
        className="minimap",
        center=[region.geometry.centroid.y, region.geometry.centroid.x],
        zoom=9,
        # Framed after the map has its size (initial `bounds` are fitted into a box not laid out yet).
        viewport={"bounds": bounds(region)},
        zoomSnap=0.25,
        # No animations: a small map is replaced whenever its subject changes (the duty desk's j/k through the
        # queue), and Leaflet throws when a map is removed while its zoom animates (Leaflet issues 6775, 9575).
        zoomAnimation=False,
        fadeAnimation=False,
        markerZoomAnimation=False,
        zoomControl=interactive,
        dragging=interactive,
        scrollWheelZoom=False,  # a page that scrolls must not be caught by the map
        attributionControl=False,
        children=[
            dl.GeoJSON(
                id=f"{map_id}-parts",
                data=feature_collection(region_feature(r, lang) for r in parts),
                style=_fn("regionStyle"),
                onEachFeature=_fn("regionEachFeature"),
                hideout={"status": part_status or {}},
            ),
            *(extra or []),
            dl.GeoJSON(
                id=f"{map_id}-alerts",
                data=feature_collection(alerts or []),
                pointToLayer=_fn("alertToLayer"),
                hideout={"lang": lang},
            ),
        ],
    )
