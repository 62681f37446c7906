"""`cityops feeds check`: decode a file with a feed's configuration, print records or the reason, write nothing."""

import json

from cityops.cli import main
from tests.app_config import CITY


def config(tmp_path, decoder: str, crs: str = "wgs84"):
    path = tmp_path / "cityops.toml"
    path.write_text(
        CITY + f'[store]\npath = "{tmp_path / "never.duckdb"}"\n'
        f'[[feeds]]\nid = "probe"\ntransport = "mqtt"\ntopics = ["x/#"]\ndecoder = "{decoder}"\ncrs = "{crs}"\n',
        encoding="utf-8",
    )
    return path


def test_a_good_file_prints_its_records(tmp_path, capsys, fixture_path):
    code = main(["feeds", "check", "--config", str(config(tmp_path, "firms-csv")), "--feed", "probe",
                 str(fixture_path("fire/firms_modis_c61_global_24h_2025-04-22_first300.csv"))])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "0 entities, 0 observations, 300 events" in out and "fire/hotspot" in out
    assert not (tmp_path / "never.duckdb").exists()


def test_a_bad_file_says_why(tmp_path, capsys, fixture_path):
    spec_json = fixture_path("open311/georeport_v2_spec_get_service_requests__json-service-requests.json")
    code = main(["feeds", "check", "--config", str(config(tmp_path, "open311")), "--feed", "probe", str(spec_json)])
    assert code == 1
    assert "would be a dead letter of feed probe: invalid JSON" in capsys.readouterr().out


def test_an_unknown_feed(tmp_path, capsys, fixture_path):
    assert main(["feeds", "check", "--config", str(config(tmp_path, "cap")), "--feed", "nope", "x"]) == 2
    assert "no feed 'nope'" in capsys.readouterr().err


def test_each_record_is_placed_at_every_level_in_local_time_and_utc(tmp_path, capsys, demo_regions):
    lon, lat = 115.490556, 38.858056  # 直隶总督署, in a gridded town of 莲池区
    found = demo_regions.locate(lon, lat)
    town, grid = demo_regions.get(found["town"]), demo_regions.get(found["grid"])
    payload = [
        {"type": "entity", "id": "g1", "domain": "flood", "kind": "river_gauge", "name": "府河 1号",
         "lon": lon, "lat": lat},
        {"type": "observation", "entity": "g1", "ts": "2026-11-22T08:00:00Z", "values": {"water_level": 3.5}},
        {"type": "event", "id": "e1", "domain": "fire", "event_type": "hotspot", "ts": "2026-11-22T08:00:00Z",
         "lon": 121.47, "lat": 31.23, "title": "火点"},
    ]  # fmt: skip
    (tmp_path / "p.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    code = main(["feeds", "check", "--config", str(config(tmp_path, "cityops-json")), "--feed", "probe",
                 str(tmp_path / "p.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    crumbs = f"保定市 130600 › 莲池区 130606 › {town.name_zh} {town.id} › {grid.name_zh} {grid.id}"
    assert f"entity  probe:g1  flood/river_gauge  府河 1号  at 115.490556, 38.858056 in {crumbs}" in out
    assert "water_level = 3.5   ok  at 2026-11-22 16:00:00 CST (08:00:00 UTC)" in out
    assert "at 121.470000, 31.230000, outside the city" in out
