"""A city's regions read level by level from its own files: map-provider exports in GCJ-02 with their own property
names, surveying shapefiles in a CGCS2000 Gauss–Krüger zone, GeoPackages, files that name no parents; and every
bad file refused with the file, the feature and what is wrong."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from cityops.cli import main
from cityops.config import ConfigError, load
from layers.crs import each_vertex, wgs84_to_gcj02
from layers.geofiles import GeoFileError
from layers.region_files import RegionLevel, load_regions, read_level
from store import queries
from tests.app_config import CITY, REGIONS
from tests.rule_city import City
from tests.unit.test_rule_engine import rule

DEMO_DISTRICTS = RegionLevel(level="district", file=REGIONS / "districts.geojson", id="adcode", name_zh="name")
DEMO_TOWNS = RegionLevel(level="town", file=REGIONS / "towns.geojson", id="code", name_zh="name", parent="areaCode")
LIANCHI_GATE = (115.490556, 38.858056)  # 直隶总督署, in 莲池区


def write_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def provider_export(tmp_path, regions):
    """The districts as a Chinese map provider exports them: GCJ-02, `adcode` and `name`, nothing else."""
    features = [{"type": "Feature", "properties": {"adcode": int(r.id), "name": r.name_zh},
                 "geometry": shapely.geometry.mapping(each_vertex(r.geometry, wgs84_to_gcj02))}
                for r in regions.level("district")]  # fmt: skip
    return write_geojson(tmp_path / "amap_districts.geojson", features)


def index(*levels):
    return load_regions(list(levels), "130600", "保定市", "Baoding")


def test_a_gcj02_provider_export_lands_where_the_districts_are(tmp_path, demo_regions):
    path = provider_export(tmp_path, demo_regions)
    read = index(RegionLevel(level="district", file=path, crs="gcj02", id="adcode", name_zh="name"))
    for region in demo_regions.level("district"):
        again = read.get(region.id)
        assert again.name_zh == again.name_en == region.name_zh  # no English names in the file: the Chinese ones
        assert shapely.hausdorff_distance(again.geometry, region.geometry) < 1e-6  # about a tenth of a metre
    # Read as if it were WGS84, the same file is some 500 m off: the shift the declared CRS takes away.
    wrong = index(RegionLevel(level="district", file=path, id="adcode", name_zh="name"))
    shift = shapely.hausdorff_distance(wrong.get("130606").geometry, demo_regions.get("130606").geometry)
    assert 0.002 < shift < 0.01


def test_a_shapefile_in_a_gauss_kruger_zone_is_read_by_its_prj(tmp_path, demo_regions):
    towns = [t for t in demo_regions.level("town") if t.parent == "130606"]
    frame = gpd.GeoDataFrame({"code": [t.id for t in towns], "name": [t.name_zh for t in towns],
                              "areaCode": [t.parent for t in towns]},
                             geometry=[t.geometry for t in towns], crs=4326)  # fmt: skip
    path = tmp_path / "towns_cgcs2000.shp"
    frame.to_crs("EPSG:4526").to_file(path, encoding="utf-8")  # CGCS2000 / 3-degree Gauss-Kruger zone 38
    spec = RegionLevel(level="town", file=path, id="code", name_zh="name", parent="areaCode")
    read = read_level(spec)
    assert len(read) == len(towns)
    for town, again in zip(towns, read, strict=True):
        assert (again.id, again.name_zh, again.parent) == (town.id, town.name_zh, "130606")
        assert shapely.hausdorff_distance(again.geometry, town.geometry) < 1e-6


def test_a_geopackage_layer_and_parents_found_by_containment(tmp_path, demo_regions):
    grids = demo_regions.level("grid")
    frame = gpd.GeoDataFrame({"gid": [g.id for g in grids], "title": [g.name_zh for g in grids]},
                             geometry=[g.geometry for g in grids], crs=4326)  # fmt: skip
    path = tmp_path / "city.gpkg"
    frame.to_file(path, layer="grids", driver="GPKG")
    frame.iloc[:3].to_file(path, layer="other", driver="GPKG")
    spec = RegionLevel(level="grid", file=path, layer="grids", id="gid", name_zh="title", parent=None)
    read = index(DEMO_DISTRICTS, DEMO_TOWNS, spec)
    assert len(read.level("grid")) == len(grids)
    for grid in grids:
        assert read.get(grid.id).parent == grid.parent  # the town holding it, found by where it lies


def with_communities(tmp_path, demo_regions):
    """The demo city with a community level: each gridded town cut into a west and an east community."""
    features = []
    for town_id in sorted({g.parent for g in demo_regions.level("grid")}):
        town = demo_regions.get(town_id).geometry
        minx, _, maxx, _ = town.bounds
        middle = (minx + maxx) / 2
        for n, (x0, x1) in enumerate(((minx - 1, middle), (middle, maxx + 1)), start=1):
            half = town.intersection(shapely.box(x0, -90, x1, 90))
            features.append({"type": "Feature", "geometry": shapely.geometry.mapping(half),
                             "properties": {"id": f"{town_id}-C{n}", "name_zh": f"社区{n}"}})  # fmt: skip
    communities = RegionLevel(level="community", file=write_geojson(tmp_path / "c.geojson", features), parent=None)
    grids = RegionLevel(level="grid", file=REGIONS / "grids.geojson", parent=None)
    return index(DEMO_DISTRICTS, DEMO_TOWNS, communities, grids)


def test_a_community_level_between_towns_and_grids(tmp_path, demo_regions):
    """Levels are the city's: one with communities (社区) between its towns and its grids."""
    read = with_communities(tmp_path, demo_regions)
    assert read.levels == ("city", "district", "town", "community", "grid")
    found = read.locate(*LIANCHI_GATE)
    assert found["community"].startswith(found["town"]) and read.get(found["grid"]).parent in {
        f"{found['town']}-C1", f"{found['town']}-C2"}  # fmt: skip
    assert [r.level for r in read.ancestors(found["grid"])] == ["city", "district", "town", "community", "grid"]
    assert {r.level for r in read.parts(read.get(found["town"]))} == {"community"}


def bad_level(tmp_path, feature_properties, geometry=None, **spec):
    geometry = geometry or shapely.geometry.mapping(shapely.box(115.4, 38.8, 115.5, 38.9))
    features = [{"type": "Feature", "properties": p, "geometry": geometry} for p in feature_properties]
    return RegionLevel(level="district", file=write_geojson(tmp_path / "bad.geojson", features), **spec)


@pytest.mark.parametrize(
    ("properties", "spec", "geometry", "message"),
    [
        ([{"adcode": "1", "name": "甲"}], {}, None,
         r"bad.geojson: no property 'id' or 'name_zh' in its features \(properties: adcode, name\)"),
        ([{"id": "1", "name_zh": "甲"}, {"id": "1", "name_zh": "乙"}], {}, None,
         r"bad.geojson: feature 2 \(id 1\): the id 1 is also feature 1's"),
        ([{"id": "1", "name_zh": ""}], {}, None, r"feature 1 \(id 1\): its 'name_zh' \(the name\) is empty"),
        ([{"id": None, "name_zh": "甲"}], {}, None, r"feature 1: its 'id' is empty"),
        ([{"id": "1", "name_zh": "甲"}], {}, {"type": "Point", "coordinates": [115.4, 38.8]},
         "feature 1 \\(id 1\\): a region is an area, not a Point"),
        ([{"id": "1", "name_zh": "甲"}], {}, shapely.geometry.mapping(shapely.box(400000, 4300000, 410000, 4310000)),
         r"feature 1 \(id 1\): its coordinates \(400000, 4300000\) … .* are no longitudes and latitudes once read "
         r"as wgs84: the file is projected; say its CRS"),
        ([], {}, None, "bad.geojson: it holds no features"),
    ],
)  # fmt: skip
def test_a_bad_region_file_names_the_file_and_the_feature(tmp_path, properties, spec, geometry, message):
    with pytest.raises(GeoFileError, match=message):
        read_level(bad_level(tmp_path, properties, geometry, **spec))


def test_a_parent_that_is_no_region_above_is_refused(tmp_path):
    town = {"code": "130606999", "name": "某街道", "areaCode": "130699"}
    spec = bad_level(tmp_path, [town], id="code", name_zh="name", parent="areaCode").model_copy(
        update={"level": "town"}
    )
    with pytest.raises(GeoFileError, match="region 130606999 names the parent 130699, which is no district"):
        index(DEMO_DISTRICTS, spec)


def test_not_a_region_file_at_all(tmp_path):
    (tmp_path / "bad.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(GeoFileError, match="bad.geojson: not a readable GeoJSON, shapefile or GeoPackage"):
        read_level(RegionLevel(level="district", file=tmp_path / "bad.geojson"))
    with pytest.raises(GeoFileError, match="nope.geojson: no such file"):
        read_level(RegionLevel(level="district", file=tmp_path / "nope.geojson"))


def city_config(tmp_path, levels: str):
    head = CITY[: CITY.index("[[city.levels]]")]
    path = tmp_path / "cityops.toml"
    path.write_text(f'{head}{levels}\n[store]\npath = "{tmp_path / "x.duckdb"}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("levels", "line", "message"),
    [
        ('[[city.levels]]\nlevel = "street"\nfile = "x.geojson"\n', 2, "level 'street' is not one of city, district"),
        ('[[city.levels]]\nlevel = "district"\nfile = "x.geojson"\ncrs = "baidu09"\n', 4, "unknown CRS 'baidu09'"),
        ('[[city.levels]]\nlevel = "town"\nfile = "x.geojson"\n', None, "the district level is needed"),
        ('[[city.levels]]\nlevel = "town"\nfile = "t.geojson"\n'
         '[[city.levels]]\nlevel = "district"\nfile = "d.geojson"\n', None, "levels go from the largest"),
    ],
)  # fmt: skip
def test_a_bad_levels_table_fails_at_start_up_with_its_line(tmp_path, levels, line, message):
    path = city_config(tmp_path, levels)
    with pytest.raises(ConfigError, match=message) as err:
        load(path, environ={})
    if line is not None:
        first = path.read_text(encoding="utf-8").splitlines().index("[[city.levels]]") + 1
        assert f"{path}:{first + line - 1}:" in str(err.value)


def test_config_check_reads_the_region_files(tmp_path, capsys):
    (tmp_path / "d.geojson").write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                                        '"properties": {"id": "1"}, "geometry": null}]}', encoding="utf-8")  # fmt: skip
    path = city_config(tmp_path, '[[city.levels]]\nlevel = "district"\nfile = "d.geojson"\n')
    assert main(["config-check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'd.geojson'}: no property 'name_zh' in its features" in err and "Traceback" not in err
    assert main(["run", "--config", str(path)]) == 2  # and run refuses it before starting anything
    assert "no property 'name_zh'" in capsys.readouterr().err


def test_regions_check_reports_the_demo_city_clean(capsys, tmp_path):
    assert main(["regions", "check", "--demo", "--png", str(tmp_path / "demo.png")]) == 0
    out = capsys.readouterr().out
    assert "district      24  (districts.geojson, CRS wgs84)" in out
    assert "town         359  (towns.geojson, CRS wgs84); in 24 of 24 district regions" in out
    assert "no gaps, overlaps or strays" in out
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regions_check_finds_gaps_overlaps_and_strays(tmp_path, capsys, demo_regions):
    towns = [t for t in demo_regions.level("town") if t.parent == "130606"]
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(t.geometry),
                 "properties": {"code": t.id, "name": t.name_zh, "areaCode": t.parent}} for t in towns[2:]]  # fmt: skip
    first = towns[2].geometry
    features[0]["geometry"] = shapely.geometry.mapping(first.buffer(0.01))  # over its neighbours and the border
    stray = shapely.box(118.0, 38.0, 118.1, 38.1)  # far east of the city
    features.append({"type": "Feature", "geometry": shapely.geometry.mapping(stray),
                     "properties": {"code": "130606900", "name": "飞地", "areaCode": None}})  # fmt: skip
    write_geojson(tmp_path / "towns.geojson", features)
    levels = CITY[CITY.index("[[city.levels]]") :].split('[[city.levels]]\nlevel = "grid"')[0]
    levels = levels.replace(f'"{REGIONS / "towns.geojson"}"', '"towns.geojson"')
    path = city_config(tmp_path, levels)
    assert main(["regions", "check", "--config", str(path), "--png", str(tmp_path / "p.png")]) == 1
    out = capsys.readouterr().out
    assert "of district 130606 is in none of its towns" in out  # the two towns left out
    assert f"overlap: town {towns[2].id} and" in out
    assert f"of town {towns[2].id} lies outside its district 130606" in out
    assert "outside: town 130606900 lies in no district" in out
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_a_datav_export_with_its_parent_object_and_osm_style_property_names(tmp_path, demo_regions):
    """Aliyun DataV writes `parent: {"adcode": 130600}`; OSM exports name properties `name:zh`, `ref:adcode`."""
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(r.geometry),
                 "properties": {"ref:adcode": r.id, "name:zh": r.name_zh, "class": "county",
                                "parent": {"adcode": 130600}}} for r in demo_regions.level("district")]  # fmt: skip
    path = write_geojson(tmp_path / "datav.geojson", features)
    read = index(RegionLevel(level="district", file=path, id="ref:adcode", name_zh="name:zh"))
    assert {r.parent for r in read.level("district")} == {"130600"}
    assert read.get("130606").name_zh == "莲池区"


def test_a_community_is_served_through_its_grids_in_rules_and_pages(open_store, tmp_path, demo_regions):
    """The store keeps district, town and grid; a rule's zone or a page of a community looks in its grids."""
    regions = with_communities(tmp_path, demo_regions)
    gate = regions.locate(*LIANCHI_GATE)
    community = regions.get(gate["community"])
    other = next(r for r in regions.level("community") if r.parent == community.parent and r.id != community.id)
    assert regions.stored(community) == ("grid", [g.id for g in regions.level("grid") if g.parent == community.id])
    assert regions.stored(regions.get("130600")) == ("district", [d.id for d in regions.level("district")])
    inside, outside = community.geometry.representative_point(), other.geometry.representative_point()
    when = "select: {kind: river_gauge}\nwhen: {threshold: {metric: level, above: 10}}"
    city = City(open_store("c"), regions, rule(f"id: in-community\nzone: {{region: {community.id}}}\n{when}"))
    city.entity("a", where=(inside.x, inside.y))
    city.entity("b", where=(outside.x, outside.y))
    city.value("a", level=12)
    city.value("b", level=12)
    city.tick()
    assert [a["subject_id"] for a in city.alerts()] == ["f:a"]
    assert queries.entities_in(city.store, *regions.stored(community))["id"].tolist() == ["f:a"]
    city.close()


def test_a_communitys_status_is_that_of_the_devices_in_its_grids(tmp_path, demo_regions):
    from types import SimpleNamespace

    import pandas as pd

    from dashboard.pages.region import region_statuses

    regions = with_communities(tmp_path, demo_regions)
    community = regions.get(regions.locate(*LIANCHI_GATE)["community"])
    grids = [g.id for g in regions.level("grid") if g.parent == community.id]
    states = pd.DataFrame({"grid_id": [grids[0], grids[-1], None], "status": ["ok", "red", "orange"]})
    snap = SimpleNamespace(region_status={"130606": "red"}, states=states)
    statuses = region_statuses(regions, snap)
    assert statuses[community.id] == "red" and statuses["130606"] == "red"
    assert not any(r.id in statuses for r in regions.level("community") if r.id != community.id)
