"""Region hierarchy and point-in-region assignment over the demo city."""

import csv

from cityops import DEMO_DIR
from layers.crs import gcj02_to_wgs84


def test_demo_city_has_the_real_districts(demo_regions):
    districts = demo_regions.level("district")
    assert len(districts) == 24
    names = {d.name_zh for d in districts}
    assert {"竞秀区", "莲池区", "涿州市", "定州市", "雄县"} <= names
    assert len(demo_regions.level("town")) > 50
    assert len(demo_regions.level("grid")) > 100


def test_city_origin_lands_in_lianchi(demo_regions):
    # 直隶总督署's gate, the city-origin marker (E115°29′26″ N38°51′29″), stands in 莲池区.
    found = demo_regions.locate(115.490556, 38.858056)
    assert demo_regions.get(found["district"]).name_zh == "莲池区"
    assert found["town"] is not None and found["town"].startswith("130606")
    assert demo_regions.get(found["town"]).parent == "130606"


def test_every_district_centre_lands_in_its_own_district(demo_regions):
    with open(DEMO_DIR / "sources/baoding_places_reference.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["type"].startswith("district_center")]
    assert len(rows) == 24
    for row in rows:
        code = row["type"].split("adcode=")[1]
        lon, lat = gcj02_to_wgs84(float(row["lon"]), float(row["lat"]))
        assert demo_regions.locate(lon, lat)["district"] == code, row["name"]


def test_point_outside_the_city_has_no_region(demo_regions):
    assert set(demo_regions.locate(121.47, 31.23).values()) == {None}


def test_grid_cells_nest_in_towns_and_towns_in_districts(demo_regions):
    for grid in demo_regions.level("grid"):
        town = demo_regions.get(grid.parent)
        assert town is not None and town.level == "town"
        # Coordinates are stored to 5 decimals, so borders may differ by that much.
        assert town.geometry.buffer(2e-5).contains(grid.geometry)
    crumbs = demo_regions.ancestors(demo_regions.level("grid")[0].id)
    assert [r.level for r in crumbs] == ["city", "district", "town", "grid"]


def test_locate_many_is_vectorised_and_consistent(demo_regions):
    lons = [115.490556, 115.97, 121.47]
    lats = [38.858056, 39.48, 31.23]
    found = demo_regions.locate_many(lons, lats)
    assert found["district"][0] == "130606"
    assert demo_regions.get(found["district"][1]).name_zh == "涿州市"
    assert found["district"][2] is None


def test_the_parts_of_a_region_are_one_level_down_and_inside_it(demo_regions):
    districts = demo_regions.parts(None)
    assert districts == demo_regions.level("district") and len(districts) == 24
    lianchi = demo_regions.get("130606")
    towns = demo_regions.parts(lianchi)
    assert towns and all(t.level == "town" and t.parent == "130606" for t in towns)
    grids = [g for t in towns for g in demo_regions.parts(t)]
    assert grids and all(demo_regions.parts(g) == [] for g in grids)  # a grid is the last level
