"""The configuration the integration and browser tests run the real app with: one flood feed, one rule with an SOP,
time limits, one unit, and the demo accounts (one per role, password demo-<name>; the wall's token demo-wall)."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from cityops import DEMO_DIR
from cityops.config import load
from layers.reference import ReferenceLayers
from layers.regions import RegionIndex

REGIONS = DEMO_DIR / "regions"
# The demo city's [city] table for configurations tests write, its files named absolutely.
CITY = f"""
[city]
name_zh = "保定市"
name_en = "Baoding"
code = "130600"
center = [115.47, 38.93]

[[city.levels]]
level = "district"
file = "{REGIONS / "districts.geojson"}"
id = "adcode"
name_zh = "name"

[[city.levels]]
level = "town"
file = "{REGIONS / "towns.geojson"}"
id = "code"
name_zh = "name"
parent = "areaCode"

[[city.levels]]
level = "grid"
file = "{REGIONS / "grids.geojson"}"
"""
RULES = """
rules:
  - id: gauge-high
    domain: flood
    select: {kind: river_gauge}
    when: {threshold: {metric: water_level, above: 12}}
    severity: red
    title: {zh_CN: "{name} 水位过高", en: "{name} water too high"}
    message: {zh_CN: "水位 {value} 米", en: "Level {value} m"}
    unit: water_authority
    sop: gauge-high
sops:
  gauge-high:
    title: {zh_CN: "高水位处置", en: "High water"}
    steps:
      - {zh_CN: "电话核实读数", en: "Verify the reading by phone"}
      - {zh_CN: "通知沿河乡镇", en: "Tell the riverside towns"}
"""

# Two of the demo's reference layers: its schools (GeoJSON) and its shelters (a CSV in GCJ-02).
LAYERS = f"""
[[layers]]
id = "schools"
name_zh = "学校"
name_en = "Schools"
kind = "school"
file = "{DEMO_DIR / "layers" / "schools.geojson"}"

[[layers]]
id = "shelters"
name_zh = "应急避难场所"
name_en = "Emergency shelters"
kind = "shelter"
file = "{DEMO_DIR / "layers" / "shelters.csv"}"
crs = "gcj02"
lon = "经度"
lat = "纬度"
name = "名称"
"""


@cache
def demo_regions() -> RegionIndex:
    """The demo city's regions, read as `cityops run --demo` reads them."""
    return load(DEMO_DIR / "cityops.toml", environ={}).city.regions()


@cache
def _demo_org_accounts() -> Path:
    """The accounts file of a first start with the demo organisation, made once in a test process: the demo's
    accounts and a few hundred people's, each password hashed with scrypt on purpose slowly (about ten seconds of
    both cores in all). A test's app starts from a copy, as a second start of the same city would."""
    import sqlite3
    import tempfile

    from alerts.org import Organisation, apply_to_accounts
    from dashboard.signin import DEMO_PASSWORD, bootstrap
    from store.accounts import Accounts

    path = Path(tempfile.mkdtemp(prefix="cityops-accounts-")) / "accounts.sqlite"
    accounts = Accounts(path)
    bootstrap(accounts, demo=True)
    apply_to_accounts(Organisation.load(DEMO_DIR / "org.yaml", demo_regions()), accounts, DEMO_PASSWORD)
    whole = path.with_name("whole.sqlite")
    with sqlite3.connect(path) as source, sqlite3.connect(whole) as copy:
        source.backup(copy)  # one file, without the write-ahead log beside it
    return whole


@cache
def demo_reference() -> ReferenceLayers:
    """The demo city's reference layers (schools, shelters … of its own), as `cityops run --demo` reads them."""
    return load(DEMO_DIR / "cityops.toml", environ={}).reference_layers()


def config(tmp_path: Path, mqtt_port: int, web_port: int, rules: str = RULES, feeds: str = "",
           org: bool | Path = False, channels: str = "", store: str | None = None, node: str | None = None,
           acknowledge_red_min: float = 5) -> Path:  # fmt: skip
    """The test config; `rules` replace the rule file, `feeds` ([[feeds]] tables) are added to the flood feed;
    `org` gives it the demo's organisation (or the file given) and working calendar (the command chain), `channels`
    more [[notify.channels]]. `store`: the [store] section's lines (default: a DuckDB file in `tmp_path`); `node`:
    this node's name among several, which share the MQTT feeds' messages (a shared subscription)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    if org is True and store is None and not (tmp_path / "accounts.sqlite").exists():
        shutil.copyfile(_demo_org_accounts(), tmp_path / "accounts.sqlite")
    store = store if store is not None else f'path = "{tmp_path / "cityops.duckdb"}"'
    cluster = f'[cluster]\nnode = "{node}"\nleader_check_s = 0.5\n' if node else ""
    shared = 'shared_group = "cityops"' if node else ""
    org_file = org if isinstance(org, Path) else DEMO_DIR / "org.yaml"
    chain = f'org = "{org_file}"\ncalendar = "{DEMO_DIR / "calendar.yaml"}"' if org else ""
    # The demo organisation's subscriptions name the demo's channel: republished on the test's broker.
    bus = '[[notify.channels]]\nid = "bus"\nkind = "mqtt"\ntopic = "cityops/out/notifications"\n' if org else ""
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    path = tmp_path / "cityops.toml"
    path.write_text(
        f"""{CITY}
[store]
{store}

{cluster}
[mqtt]
port = {mqtt_port}
client_id = "cityops-browser-test"
{shared}

[auth]
path = "{tmp_path / "accounts.sqlite"}"
demo_accounts = true

[web]
port = {web_port}
refresh_ms = 500
wall_rotate_s = 0

[alerts]
rules = "rules.yaml"
evaluate_every_s = 1
{chain}

[alerts.time_limits]
acknowledge = {{ red = {acknowledge_red_min}, orange = 10, yellow = 30, blue = 60 }}
dispatch = {{ red = 10, orange = 30, yellow = 60, blue = 240 }}
resolve = {{ red = 60, orange = 240, yellow = 480, blue = 1440 }}

[[units]]
id = "water-authority"
type = "water_authority"
name_zh = "保定市水利局"
name_en = "Baoding Water Resources Bureau"

[[units]]
id = "jingxiu-fire"
type = "fire_brigade"
district = "130602"
name_zh = "竞秀区消防救援大队"
name_en = "Jingxiu Fire Brigade"

{LAYERS}
{bus}
{channels}
[[feeds]]
id = "test-flood"
transport = "mqtt"
topics = ["test/flood/#"]
decoder = "cityops-json"
stale_after_s = 600
{feeds}
""",
        encoding="utf-8",
    )
    return path
