"""Configuration: the demo file loads; mistakes name the file, the line, the key and the reason."""

import pytest

from cityops import DEMO_DIR
from cityops.config import ConfigError, load

DEMO = DEMO_DIR / "cityops.toml"


def write(tmp_path, text):
    path = tmp_path / "cityops.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_config_loads_with_paths_resolved():
    settings = load(DEMO, environ={})
    assert [lv.file for lv in settings.city.levels] == [DEMO.parent / "regions" / f"{name}.geojson"
                                                        for name in ("districts", "towns", "grids")]  # fmt: skip
    assert [f.id for f in settings.feeds] == ["demo-traffic", "demo-flood", "demo-fire", "demo-security",
                                              "demo-hydrology", "demo-hotspots", "demo-weather"]  # fmt: skip
    assert settings.feeds[0].crs == "gcj02"


def test_the_demo_writes_under_the_folder_it_is_started_from(tmp_path):
    settings = load(DEMO, environ={}, state_dir=tmp_path)
    assert settings.store.path == tmp_path / "var" / "demo" / "cityops.duckdb"
    assert settings.auth.path == tmp_path / "var" / "demo" / "accounts.sqlite"
    assert settings.broker.data_dir == tmp_path / "var" / "demo" / "broker"
    assert settings.city.levels[0].file == DEMO.parent / "regions" / "districts.geojson"  # read beside it


def test_environment_overrides(tmp_path):
    settings = load(
        DEMO,
        environ={
            "CITYOPS_WEB__PORT": "8099",
            "CITYOPS_SIMULATOR__RATE": "50.5",
            "CITYOPS_STORE__PATH": str(tmp_path / "x.duckdb"),
        },
    )
    assert settings.web.port == 8099
    assert settings.simulator.rate == 50.5
    assert settings.store.path == tmp_path / "x.duckdb"


def test_unknown_key_names_file_line_and_key(tmp_path):
    text = DEMO.read_text(encoding="utf-8").replace("refresh_ms = 1000", "refresh_ms = 1000\nrefrsh_ms = 5")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    line = text.splitlines().index("refrsh_ms = 5") + 1
    assert f"{path}:{line}: web.refrsh_ms: unknown key" in str(err.value)


def test_bad_value_in_an_array_of_tables(tmp_path):
    text = DEMO.read_text(encoding="utf-8").replace('crs = "bd09"', 'crs = "baidu"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(path, environ={})
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith('crs = "baidu"'))
    assert f"{path}:{line}: feeds.3.crs: unknown CRS 'baidu'" in str(err.value)


def test_missing_section_and_bad_env_value(tmp_path):
    city = '[city]\nname_zh = "x"\nname_en = "x"\ncenter = [1, 2]\n'
    path = write(tmp_path, city + '[[city.levels]]\nlevel = "district"\nfile = "r.geojson"\n')
    with pytest.raises(ConfigError, match="store: required key is missing"):
        load(path, environ={})
    with pytest.raises(ConfigError, match="environment variable CITYOPS_STORE__BATCH_MAX_ROWS: store.batch_max_rows"):
        load(DEMO, environ={"CITYOPS_STORE__BATCH_MAX_ROWS": "-5"})


def test_unknown_decoder_and_time_zone(tmp_path):
    text = DEMO.read_text(encoding="utf-8").replace('decoder = "cityops-json"', 'decoder = "xml"', 1)
    text = text.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"')
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text), environ={})
    assert "unknown decoder 'xml'" in str(err.value) and "unknown time zone 'Asia/Beijing'" in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[city\n"), environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml", environ={})


def test_demo_sources_need_the_simulator(tmp_path):
    text = DEMO.read_text(encoding="utf-8").replace("[simulator]\nenabled = true", "[simulator]\nenabled = false")
    path = tmp_path / "c.toml"
    path.write_text(text.replace('"regions/', f'"{DEMO.parent}/regions/'), encoding="utf-8")
    with pytest.raises(ConfigError, match="feed demo-hydrology reads \\{demo\\}/…, which only the demo simulator"):
        load(path, environ={})


def demo_feeds_changed(tmp_path, old: str, new: str) -> tuple[str, str]:
    """The demo file with one change in its feeds, and the error it gives."""
    text = DEMO.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text), environ={})
    return text, str(err.value)


def line_of(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def test_an_unknown_or_missing_transport_is_named_at_its_line(tmp_path):
    text, error = demo_feeds_changed(tmp_path, 'transport = "http"', 'transport = "ftp"')
    line = line_of(text, 'transport = "ftp"')
    assert f":{line}: feeds.4.transport: unknown transport 'ftp'; transports: mqtt, http, file" in error
    text, error = demo_feeds_changed(tmp_path, 'transport = "http"\n', "")
    line = line_of(text, 'id = "demo-hydrology"') - 1  # its [[feeds]]
    assert f":{line}: feeds.4.transport: required key is missing (one of mqtt, http, file)" in error


def test_a_key_of_another_transport_says_whose_it_is(tmp_path):
    flood = 'topics = ["baoding/flood/#"]'
    text, error = demo_feeds_changed(tmp_path, flood, flood + "\ninterval_s = 15")
    line = line_of(text, "interval_s = 15")
    assert f":{line}: feeds.1.interval_s: 'interval_s' is a key of http feeds, not of mqtt feeds" in error
    weather = 'url = "{demo}/cap/latest.xml"'
    text, error = demo_feeds_changed(tmp_path, weather, weather + '\ntopics = ["x"]')
    line = line_of(text, 'topics = ["x"]')
    assert f":{line}: feeds.6.topics: 'topics' is a key of mqtt feeds, not of http feeds" in error


def test_each_transport_checks_its_own_keys(tmp_path):
    _, error = demo_feeds_changed(tmp_path, 'url = "{demo}/firms/viirs_24h.csv"', 'url = "ftp://x/y.csv"')
    assert "feeds.5.url: an http feed needs a 'url' starting with http:// or https://" in error
    _, error = demo_feeds_changed(tmp_path, 'topics = ["baoding/fire/#"]', "topics = []")
    assert "feeds.2.topics: an mqtt feed needs 'topics'" in error


def test_a_mapping_only_for_a_decoder_that_reads_one(tmp_path):
    mapping = '\n[feeds.mapping]\nid = "x"\ndomain = "flood"\nkind = "gauge"\nvalues = { level = "v" }'
    http = "\n# Systems the demo city serves over HTTP"
    text, error = demo_feeds_changed(tmp_path, http, mapping + "\n" + http)
    line = line_of(text, 'id = "demo-security"') - 1  # its [[feeds]]
    assert f":{line}: feeds.3: the cityops-json decoder takes no [feeds.mapping] table" in error
