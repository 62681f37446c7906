"""Build the demo city's region files, cityops/demo/regions/*.geojson, from the real names, codes and centres in
cityops/demo/sources/. Each level's file is shaped as its kind of publisher writes it: districts as a map provider
exports them (`adcode`, `name`), towns as the statistics code list names them (`code`, `name`, `areaCode`), grids
as a grid office draws them (no parents: CityOps finds them by containment).

Run: .venv/bin/python scripts/build_demo_city.py  (needs `pip install pypinyin` for the English town names;
the output is committed, so CityOps itself never needs it). The output is deterministic.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import shapely
from pypinyin import lazy_pinyin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers.crs import gcj02_to_wgs84, wgs84_to_gcj02  # noqa: E402
from layers.synthetic import hull, seeds_inside, square_grid, voronoi_cells  # noqa: E402

SOURCES = ROOT / "cityops" / "demo" / "sources"
OUT = ROOT / "cityops" / "demo" / "regions"
LAYERS = ROOT / "cityops" / "demo" / "layers"

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
# Towns of the two development zones lie in districts: the high-tech zone's streets in 竞秀区, 白沟 in 高碑店市.
ZONE_DISTRICT = {"130671": "130602", "130672": "130684"}
SUFFIX_EN = (("街道", "Subdistrict"), ("镇", "Town"), ("乡", "Township"))
CORE_RADIUS_DEG = 0.07  # towns whose centre is this near the city's origin are gridded
GRID_DEG = 0.01  # about 1.1 km north-south, 0.87 km east-west at 39°N
PRECISION = 5


def town_en(name: str) -> str:
    for suffix, word in SUFFIX_EN:
        if name.endswith(suffix):
            return "".join(lazy_pinyin(name[: -len(suffix)])).title() + " " + word
    return "".join(lazy_pinyin(name)).title()


def feature(geometry, **props):
    geometry = shapely.set_precision(geometry, 10**-PRECISION)
    return {
        "type": "Feature",
        "properties": {**props, "approximate": True},
        "geometry": shapely.geometry.mapping(geometry),
    }


def write(name: str, features: list[dict]) -> None:
    path = OUT / name
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}: {len(features)} features")


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

    districts = []
    district_shapes = {}
    for code, cell in zip(codes, cells, strict=True):
        name, lon, lat = centres[code]
        district_shapes[code] = cell
        districts.append(feature(cell, adcode=code, name=name, name_en=DISTRICT_EN[name], centre=[lon, lat]))

    with open(SOURCES / "baoding_towns_streets_codes_modood.csv", encoding="utf-8") as f:
        towns = list(csv.DictReader(f))
    for town in towns:
        town["district"] = ZONE_DISTRICT.get(town["areaCode"], town["areaCode"])
    town_features = []
    town_shapes = {}
    for district in codes:
        names = [t for t in towns if t["district"] == district]
        area = district_shapes[district]
        seeds = seeds_inside(area, len(names), seed=int(district))
        for town, cell, seed in zip(names, voronoi_cells(seeds, area), seeds, strict=True):
            town_shapes[town["code"]] = cell
            town_features.append(
                feature(
                    cell,
                    code=town["code"],
                    name=town["name"],
                    name_en=town_en(town["name"]),
                    areaCode=town["district"],
                    centre=list(seed),
                )  # fmt: skip
            )

    # Grid workers cover the towns of the urban core, each whole town in cells of about a square kilometre.
    origin = shapely.Point(city_centre)
    grids = []
    for code, shape in town_shapes.items():
        if code[:6] in CORE and shape.centroid.distance(origin) < CORE_RADIUS_DEG:
            for n, cell in enumerate(square_grid(shape, GRID_DEG), start=1):
                grids.append(feature(cell, id=f"{code}-G{n:02d}", name_zh=f"网格{n:02d}", name_en=f"Grid {n:02d}"))

    OUT.mkdir(exist_ok=True)
    write("districts.geojson", districts)
    write("towns.geojson", town_features)
    write("grids.geojson", grids)
    reference_layers(districts, town_features)


def reference_layers(districts: list[dict], towns: list[dict]) -> None:
    """The demo's reference layers, places of our own near the real centres, named as examples (示例): no real
    shelter, hospital or school stands at these points. Shelters as a CSV in GCJ-02 with Chinese column names, as
    a district's list comes; the others as GeoJSON in WGS84."""
    rng = np.random.default_rng(130600)

    def near(centre, spread):
        return centre[0] + rng.normal(0, spread), centre[1] + rng.normal(0, spread)

    LAYERS.mkdir(exist_ok=True)
    with open(LAYERS / "shelters.csv", "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["名称", "经度", "纬度", "容纳人数"])
        for town in towns:
            lon, lat = wgs84_to_gcj02(*near(town["properties"]["centre"], 0.004))
            out.writerow([f"{town['properties']['name']}避难场所（示例）", f"{lon:.6f}", f"{lat:.6f}",
                          int(rng.integers(2, 40)) * 100])  # fmt: skip
    hospitals = [point(near(d["properties"]["centre"], 0.006), f"{d['properties']['name']}医院（示例）")
                 for d in districts]  # fmt: skip
    schools = [point(near(t["properties"]["centre"], 0.01), f"{t['properties']['name']}学校（示例）") for t in towns]
    core = [t for t in towns if t["properties"]["areaCode"] in CORE]
    waterlogging = [point(near(t["properties"]["centre"], 0.006), f"易涝点（示例）{n}")
                    for n, t in enumerate(core, start=1)]  # fmt: skip
    for name, features in (("hospitals", hospitals), ("schools", schools), ("waterlogging", waterlogging)):
        path = LAYERS / f"{name}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                                   separators=(",", ":")) + "\n", encoding="utf-8")  # fmt: skip
        print(f"wrote {path.relative_to(ROOT)}: {len(features)} features")


def point(lon_lat, name: str) -> dict:
    lon, lat = lon_lat
    return {"type": "Feature", "properties": {"name": name, "approximate": True},
            "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}}  # fmt: skip


if __name__ == "__main__":
    main()
