"""Reference layers from real public files: hospitals a map provider geocoded (GeoJSON in GCJ-02 that says nothing of
it, a shapefile without .prj or .cpg), Taiwan's national list of shelters (CSV with a BOM and Chinese columns),
Taichung's hydrants, OpenStreetMap hospitals (points and building outlines); what lies within so many metres, for
rules (`near:`) and an incident's detail."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import Geod

from cityops.cli import main
from cityops.config import ConfigError, load
from dashboard.pages.duty.desk import Desk
from dashboard.pages.duty.detail import nearby
from layers.crs import gcj02_to_wgs84
from layers.geofiles import GeoFileError
from layers.reference import ReferenceLayerSettings, load_reference_layers
from tests.app_config import CITY, LAYERS
from tests.rule_city import City
from tests.unit.test_rule_engine import rule

BAODING = (115.47, 38.93)
GEOD = Geod(ellps="WGS84")


def layers(fixture_path, centre=BAODING, **spec):
    spec["file"] = fixture_path(f"reference/{spec['file']}")
    settings = ReferenceLayerSettings(id=spec.pop("id", "ref"), name_zh="参考", name_en="Reference", **spec)
    return load_reference_layers([settings], centre)


def test_a_provider_geojson_in_gcj02_is_placed_in_wgs84(fixture_path):
    raw = json.loads(fixture_path("reference/cn_hospitals_amap_gcj02.geojson").read_bytes())
    [layer] = layers(fixture_path, file="cn_hospitals_amap_gcj02.geojson", crs="gcj02", kind="hospital")
    assert len(layer.places) == len(raw["features"]) == 594
    first = raw["features"][0]
    assert layer.places[0].name == first["properties"]["name"]
    lon, lat = gcj02_to_wgs84(*first["geometry"]["coordinates"])
    assert (layer.places[0].geometry.x, layer.places[0].geometry.y) == pytest.approx((lon, lat), abs=1e-9)


def test_a_shapefile_without_prj_or_cpg_read_with_its_crs_and_encoding(fixture_path):
    [layer] = layers(fixture_path, file="cn_hospitals_amap_shp/hospital.shp", crs="gcj02", encoding="utf-8")
    assert len(layer.places) == 457
    csv_names = [line.split(",")[0] for line in fixture_path("reference/cn_hospitals_amap_gcj02.csv").read_text(
        encoding="utf-8").splitlines()[1:]]  # fmt: skip
    assert [p.name for p in layer.places] == csv_names  # the same list, its Chinese names read right
    assert {p.geometry.geom_type for p in layer.places} <= {"Point", "MultiPoint"}


def test_a_national_shelter_list_as_csv_with_a_bom_and_chinese_columns(fixture_path):
    [layer] = layers(fixture_path, file="tw_nfa_shelters_v9_first820.csv", lon="經度", lat="緯度",
                     name="避難收容處所名稱", kind="shelter", centre=(121.0, 24.4))  # fmt: skip
    assert len(layer.places) == 820 and layer.places[0].name == "五峰活動中心"
    # Near the first shelter (五峰活動中心, 121.073 E 24.386 N): itself at 0 m first.
    found = layer.within(shapely.Point(121.073, 24.386), 2000)
    assert found[0][0].name == "五峰活動中心" and found[0][1] == pytest.approx(0, abs=0.01)


def test_distances_are_metres_on_the_ellipsoid(fixture_path):
    [layer] = layers(fixture_path, file="tw_taichung_fire_hydrants_first200.geojson", kind="hydrant",
                     centre=(120.68, 24.15))  # fmt: skip
    here = shapely.Point(120.70, 24.12)
    found = layer.within(here, 1500)
    assert found, "hydrants within 1.5 km of a street in 大里區"
    for place, metres in found:
        _, _, true = GEOD.inv(here.x, here.y, place.geometry.x, place.geometry.y)
        assert metres == pytest.approx(true, rel=0.005)  # within half a percent across a city
    true = {id(p): GEOD.inv(here.x, here.y, p.geometry.x, p.geometry.y)[2] for p in layer.places}
    near = {id(p) for p, _ in found}
    assert all(key in near for key, d in true.items() if d <= 1500 * 0.995)  # none missed
    assert all(true[key] <= 1500 * 1.005 for key in near)  # none too far


def test_areas_and_points_in_one_layer(fixture_path):
    [layer] = layers(fixture_path, file="osm_hospitals_philippines_overpass_2014_subset.geojson", kind="hospital",
                     centre=(121.0, 14.6))  # fmt: skip
    kinds = {p.geometry.geom_type for p in layer.places}
    assert {"Point", "Polygon"} <= kinds
    outline = next(p for p in layer.places if p.geometry.geom_type == "Polygon")
    inside = outline.geometry.representative_point()
    assert layer.within(inside, 1)[0][0] is outline  # a point inside a building is 0 m from it
    document = layer.feature_collection("en")
    assert len(document["features"]) == len(layer.places)
    assert document["features"][0]["properties"]["kind"] == "hospital"


def test_the_points_near_a_layer_vectorised(fixture_path):
    [layer] = layers(fixture_path, file="tw_taichung_fire_hydrants_first200.geojson", centre=(120.68, 24.15))
    first = layer.places[0].geometry
    lons = np.array([first.x, first.x + 0.05, np.nan])
    lats = np.array([first.y, first.y, np.nan])
    assert layer.near_points(lons, lats, 100).tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"file": "tw_nfa_shelters_v9_first820.csv"}, "a CSV needs the names of its longitude and latitude columns"),
        ({"file": "tw_nfa_shelters_v9_first820.csv", "lon": "lng", "lat": "緯度"}, "no column 'lng'"),
        ({"file": "tw_taichung_fire_hydrants_first200.geojson", "name": "名稱"},
         "no property '名稱' for the places' names"),
        ({"file": "nope.geojson"}, "nope.geojson: no such file"),
    ],
)  # fmt: skip
def test_a_bad_layer_file_names_the_file_and_what_is_wrong(fixture_path, spec, message):
    with pytest.raises(GeoFileError, match=message):
        layers(fixture_path, **spec)


def test_a_csv_row_whose_coordinates_are_no_numbers(tmp_path):
    (tmp_path / "p.csv").write_text("name,x,y\na,115.4,38.8\nb,east,38.9\n", encoding="utf-8")
    settings = ReferenceLayerSettings(id="p", name_zh="p", name_en="p", file=tmp_path / "p.csv", lon="x", lat="y")
    with pytest.raises(GeoFileError, match=r"p.csv:3: x 'east' and y '38.9' are no coordinates"):
        load_reference_layers([settings], BAODING)


def test_config_check_reads_every_layer_and_a_rule_near_an_unknown_layer_stops_start_up(tmp_path, capsys):
    path = tmp_path / "cityops.toml"
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("schools", "kindergartens"), encoding="utf-8")
    path.write_text(f'{CITY}\n{LAYERS}\n[store]\npath = "{tmp_path / "x.duckdb"}"\n[alerts]\nrules = "rules.yaml"\n',
                    encoding="utf-8")  # fmt: skip
    assert main(["config-check", str(path)]) == 0
    assert "; schools: 359; shelters: 359)" in capsys.readouterr().out
    assert main(["run", "--config", str(path)]) == 2
    assert "rules are near layers that [[layers]] does not configure: kindergartens (rule fire-near-school)" in (
        capsys.readouterr().err)  # fmt: skip
    duplicated = path.read_text(encoding="utf-8").replace('id = "shelters"', 'id = "schools"')
    path.write_text(duplicated, encoding="utf-8")
    with pytest.raises(ConfigError, match="layer id 'schools' appears twice"):
        load(path, environ={})


RULES = """
rules:
  - id: fire-near-school
    domain: fire
    near: {layer: schools, within_m: 800}
    when: {count: {event_type: hotspot, min: 1, within_km: 1, window: 1h}}
    severity: red
    title: {zh_CN: "学校附近火点", en: "Hotspot near a school"}
    message: {zh_CN: "{value}", en: "{value}"}
    unit: fire_brigade
"""


def test_a_rule_near_a_layer_fires_for_what_is_near_it_only(open_store, tmp_path, demo_regions):
    reference = load(_demo_config(tmp_path), environ={}).reference_layers()
    school = reference.get("schools").places[0].geometry
    city = City(open_store("r"), demo_regions, rule(THRESHOLD_NEAR), reference=reference)
    city.entity("near", where=(school.x + 0.003, school.y))  # about 260 m east
    city.entity("far", where=(school.x + 0.3, school.y))
    for _ in range(3):
        city.at(minutes=1).value("near", level=12)
        city.at(seconds=1).value("far", level=12)
        city.tick()
    assert [a["subject_id"] for a in city.alerts()] == ["f:near"]
    city.close()


THRESHOLD_NEAR = """
id: high-near-school
select: {kind: river_gauge}
near: {layer: schools, within_m: 500}
when: {threshold: {metric: level, above: 10}}
for: 1m
"""


def _demo_config(tmp_path):
    path = tmp_path / "cityops.toml"
    path.write_text(f'{CITY}\n{LAYERS}\n[store]\npath = "x.duckdb"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: w\nsubject: warning\nnear: {layer: schools, within_m: 5}\nwhen: {warning: {event: rain}}",
         "a warning has its own area, no 'zone', 'near'"),
        ("id: f\nsubject: feed\nnear: {layer: schools, within_m: 5}\nwhen: {absent: 10m}", "no 'near'"),
        ("id: t\nnear: {layer: schools, within_m: 0}\nwhen: {threshold: {metric: x, above: 1}}", "greater than 0"),
    ],
)  # fmt: skip
def test_a_rule_near_is_refused_where_it_means_nothing(text, message):
    from alerts.rules import RuleError

    with pytest.raises(RuleError, match=message):
        rule(text)


def test_the_duty_detail_names_what_is_near(tmp_path, demo_regions):
    reference = load(_demo_config(tmp_path), environ={}).reference_layers()
    school = reference.get("schools").places[0]
    desk = Desk(store=None, snapshots=None, regions=demo_regions, units={}, sops={}, tz="Asia/Shanghai",
                note_chars=4000, reference=reference)  # fmt: skip
    alert = {"area": None, "lon": school.geometry.x, "lat": school.geometry.y}
    t = lambda text, **kw: text.format(**kw)  # noqa: E731
    label, lines = nearby(desk, alert, None, t, "zh_CN")
    said = [li.children for li in lines.children.children]
    assert label.children == "Nearby"
    expected = {n.layer.id: n.places for n in reference.nearby(school.geometry, 1000)}
    schools = expected["schools"]
    names = "、".join(p.name for p, _ in schools[:3]) + ("…" if len(schools) > 3 else "")
    assert said[0] == f"学校: {len(schools)} within 1 km ({names}), the nearest 0 m away"
    assert len(said) == len(expected)  # one line per layer with something near
    far = {"area": None, "lon": 0.0, "lat": 0.0}
    assert nearby(desk, far, None, t, "en")[1].children == "none"


def test_shelters_geocoded_by_a_map_provider_as_csv_in_gcj02(fixture_path):
    [layer] = layers(fixture_path, file="cn_shelters_bj_sz_cd_gz_amap_gcj02.csv", lon="longitude", lat="latitude",
                     name="sid", crs="gcj02", kind="shelter", centre=(116.3975, 39.9087))  # fmt: skip
    assert len(layer.places) == 1800
    gate = shapely.Point(116.3975, 39.9087)  # 天安门, WGS84
    near = layer.within(gate, 3000)
    assert near and all(place.name.startswith("bj") for place, _ in near)
    # Read as if it were WGS84, each shelter would stand some 500 m from where it is.
    [raw] = layers(fixture_path, file="cn_shelters_bj_sz_cd_gz_amap_gcj02.csv", lon="longitude", lat="latitude",
                   name="sid", centre=(116.3975, 39.9087))  # fmt: skip
    _, _, shift = GEOD.inv(raw.places[0].geometry.x, raw.places[0].geometry.y, layer.places[0].geometry.x,
                           layer.places[0].geometry.y)  # fmt: skip
    assert 300 < shift < 800
