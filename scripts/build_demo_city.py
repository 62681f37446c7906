"""Build cityops/demo/regions.geojson from the real names, codes and centres in cityops/demo/sources/.

Run: .venv/bin/python scripts/build_demo_city.py  (needs `pip install pypinyin` for the English town names;
the output is committed, so CityOps itself never needs it). The output is deterministic.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import shapely
from pypinyin import lazy_pinyin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers.crs import gcj02_to_wgs84  # noqa: E402
from layers.synthetic import hull, seeds_inside, square_grid, voronoi_cells  # noqa: E402

SOURCES = ROOT / "cityops" / "demo" / "sources"
OUT = ROOT / "cityops" / "demo" / "regions.geojson"

DISTRICT_EN = {
    "竞秀区": "Jingxiu District",
    "莲池区": "Lianchi District",
    "满城区": "Mancheng District",
    "清苑区": "Qingyuan District",
    "徐水区": "Xushui District",
    "涞水县": "Laishui County",
    "阜平县": "Fuping County",
    "定兴县": "Dingxing County",
    "唐县": "Tang County",
    "高阳县": "Gaoyang County",
    "容城县": "Rongcheng County",
    "涞源县": "Laiyuan County",
    "望都县": "Wangdu County",
    "安新县": "Anxin County",
    "易县": "Yi County",
    "曲阳县": "Quyang County",
    "蠡县": "Li County",
    "顺平县": "Shunping County",
    "博野县": "Boye County",
    "雄县": "Xiong County",
    "涿州市": "Zhuozhou City",
    "定州市": "Dingzhou City",
    "安国市": "Anguo City",
    "高碑店市": "Gaobeidian City",
}
URBAN = ("130602", "130606", "130607", "130608", "130609")  # the five districts of the city proper
CORE = ("130602", "130606")  # the gridded urban core
SUFFIX_EN = (("街道", "Subdistrict"), ("镇", "Town"), ("乡", "Township"))
GRID_DEG = 0.01  # about 1.1 km north-south, 0.87 km east-west at 39°N
PRECISION = 5


def town_en(name: str) -> str:
    for suffix, word in SUFFIX_EN:
        if name.endswith(suffix):
            return "".join(lazy_pinyin(name[: -len(suffix)])).title() + " " + word
    return "".join(lazy_pinyin(name)).title()


def feature(region_id, level, name_zh, name_en, parent, geometry, **extra):
    geometry = shapely.set_precision(geometry, 10**-PRECISION)
    props = {"id": region_id, "level": level, "name_zh": name_zh, "name_en": name_en, "parent": parent}
    props.update(extra, approximate=True)
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geometry)}


def main() -> None:
    with open(SOURCES / "baoding_places_reference.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    centres = {}
    city_centre = None
    for row in rows:
        kind = row["type"]
        if kind.startswith("district_center") or kind.startswith("city_center"):
            code = kind.split("adcode=")[1]
            lon, lat = gcj02_to_wgs84(float(row["lon"]), float(row["lat"]))
            if kind.startswith("city_center"):
                city_centre = (lon, lat)
            else:
                centres[code] = (row["name"], lon, lat)
    codes = sorted(centres)
    points = [(centres[c][1], centres[c][2]) for c in codes]
    city_shape = hull(points, margin=0.28)
    cells = voronoi_cells(points, city_shape)

    features = [feature("130600", "city", "保定市", "Baoding", None, city_shape, centre=city_centre)]
    district_shapes = {}
    for code, cell in zip(codes, cells, strict=True):
        name, lon, lat = centres[code]
        district_shapes[code] = cell
        features.append(
            feature(
                code,
                "district",
                name,
                DISTRICT_EN[name],
                "130600",
                cell,
                centre=[lon, lat],
                urban=code in URBAN,
            )
        )

    with open(SOURCES / "baoding_towns_streets_codes_modood.csv", encoding="utf-8") as f:
        towns = [r for r in csv.DictReader(f) if r["areaCode"] in URBAN]
    town_shapes = {}
    for district in URBAN:
        names = [t for t in towns if t["areaCode"] == district]
        area = district_shapes[district]
        seeds = seeds_inside(area, len(names), seed=int(district))
        for town, cell, seed in zip(names, voronoi_cells(seeds, area), seeds, strict=True):
            town_shapes[town["code"]] = cell
            features.append(
                feature(
                    town["code"],
                    "town",
                    town["name"],
                    town_en(town["name"]),
                    district,
                    cell,
                    centre=list(seed),
                )
            )

    core = shapely.union_all([district_shapes[c] for c in CORE])
    core = core.intersection(shapely.Point(city_centre).buffer(0.09))
    town_tree = shapely.STRtree(list(town_shapes.values()))
    town_codes = list(town_shapes)
    per_town: dict[str, int] = {}
    for _row, _col, cell in square_grid(core, GRID_DEG):
        hit = town_tree.query(cell.centroid, predicate="intersects")
        if len(hit) == 0:
            continue
        parent = town_codes[int(hit[0])]
        cell = cell.intersection(town_shapes[parent])
        if cell.is_empty or cell.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        per_town[parent] = per_town.get(parent, 0) + 1
        n = per_town[parent]
        features.append(feature(f"{parent}-G{n:02d}", "grid", f"网格{n:02d}", f"Grid {n:02d}", parent, cell))

    OUT.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, separators=(",", ":"))
        + "\n",
        encoding="utf-8",
    )
    counts = {}
    for f in features:
        counts[f["properties"]["level"]] = counts.get(f["properties"]["level"], 0) + 1
    print(f"wrote {OUT.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()
