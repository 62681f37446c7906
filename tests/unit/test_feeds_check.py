"""`cityops feeds check`: decode a file with a feed's configuration, print records or the reason, write nothing."""

from cityops import DEMO_DIR
from cityops.cli import main


def config(tmp_path, decoder: str, crs: str = "wgs84"):
    path = tmp_path / "cityops.toml"
    path.write_text(
        f'[city]\nname_zh = "保定市"\nname_en = "Baoding"\nregions = "{DEMO_DIR}/regions.geojson"\n'
        f'center = [115.47, 38.93]\n[store]\npath = "{tmp_path / "never.duckdb"}"\n'
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
