"""The wall's map layers through the real app's HTTP interface (Flask's client, a DuckDB file): a city too large for
the browser is served as cells of the wall's view, and the snapshot thread prepares the cells of the views walls
asked for lately, so that a refresh finds them made."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cityops.config import load
from dashboard import signin
from dashboard.app import create_app, stop_app
from feeds.decoders import cityops_json
from feeds.decoding import FeedDecoding
from layers.crs import to_wgs84
from store.accounts import Accounts
from store.duckdb_engine import DuckDBStore
from store.writer import Writer
from tests.app_config import config
from tests.harness import LIANCHI, wait_until

pytestmark = pytest.mark.integration
VIEW = "z=12&bbox=115.3,38.7,115.7,39.0"


@pytest.fixture
def wall(tmp_path):
    settings = load(config(tmp_path, mqtt_port=1883, web_port=8050))
    settings.web.server_cells_above = 10
    store = DuckDBStore(settings.store.path)
    accounts = Accounts(settings.auth.path)
    signin.bootstrap(accounts, demo=True)
    regions = settings.city.regions()
    writer = Writer(store)
    writer.start()
    feed = FeedDecoding("test-flood", cityops_json.decode, to_wgs84("wgs84"))

    def send(*items: dict) -> None:
        for item in items:
            writer.put(feed.envelope("test", json.dumps(item).encode(), datetime.now(UTC), regions))
        assert writer.flush()

    gauges = []
    for n in range(100):  # a 10 × 10 grid of gauges around the centre of Lianchi
        gauges.append({"type": "entity", "id": f"g{n}", "domain": "flood", "kind": "river_gauge", "name": f"g {n}",
                       "lon": LIANCHI[0] + (n % 10 - 5) * 0.004, "lat": LIANCHI[1] + (n // 10 - 5) * 0.004,
                       "attributes": {"levels": {"metric": "water_level", "yellow": 10, "red": 12}}})  # fmt: skip
        gauges.append({"type": "observation", "entity": f"g{n}", "values": {"water_level": 5}})
    send(*gauges)
    app = create_app(settings, store, regions, accounts, writer, reference=settings.reference_layers())
    client = app.server.test_client()
    client.get(f"/wall?token={signin.DEMO_DISPLAY_TOKEN}")
    yield app, client, send
    stop_app(app)
    writer.stop()
    store.close()
    accounts.close()


def test_the_cells_of_a_view_a_wall_asked_for_are_prepared_with_the_next_snapshot(wall):
    app, client, send = wall
    counts = app.server.extensions["cityops_cells"]
    snapshots = app.server.extensions["cityops_snapshots"]
    first = client.get(f"/api/layers/points/flood.geojson?{VIEW}")
    assert first.status_code == 200
    cells = first.json["features"]
    assert sum(f["properties"].get("n", 1) for f in cells) == 100 and all(f["properties"]["s"] == "k" for f in cells)
    assert counts == {"prepared": 0, "on_demand": 1}, "the first time a view is asked for, its cells are gathered"

    send({"type": "observation", "entity": "g55", "values": {"water_level": 12.7}})  # one gauge turns red
    wait_until(lambda: "r" in snapshots.get().layers["flood"].status, 10, "a red gauge in the wall's snapshot")
    assert counts["prepared"] >= 1, "the snapshot thread gathered the view's new cells before the wall heard"
    again = client.get(f"/api/layers/points/flood.geojson?{VIEW}")
    assert [f["properties"]["s"] for f in again.json["features"]].count("r") == 1
    assert counts["on_demand"] == 1, "asked for again, they are only sent"
    assert client.get(f"/api/layers/points/flood.geojson?{VIEW}",
                      headers={"If-None-Match": again.headers["ETag"]}).status_code == 304  # fmt: skip
    assert client.get("/api/layers/points/flood.geojson?z=12&bbox=1,2").status_code == 400


def test_a_reference_layer_is_served_once_in_the_wall_s_language_and_revalidated(wall):
    _, client, _ = wall
    first = client.get("/api/layers/reference/shelters.geojson?lang=en")
    assert first.status_code == 200 and first.headers["Cache-Control"].startswith("private, max-age=3600")
    features = first.json["features"]
    assert len(features) == 359 and features[0]["properties"]["layer"] == "Emergency shelters"
    assert features[0]["properties"]["kind"] == "shelter" and features[0]["properties"]["name"].endswith("（示例）")
    assert client.get("/api/layers/reference/shelters.geojson?lang=zh_CN").json["features"][0]["properties"][
        "layer"] == "应急避难场所"  # fmt: skip
    again = client.get("/api/layers/reference/shelters.geojson?lang=en",
                       headers={"If-None-Match": first.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304
    assert client.get("/api/layers/reference/kindergartens.geojson").status_code == 404


def test_a_reference_layer_needs_a_wall_or_a_user(tmp_path):
    settings = load(config(tmp_path, mqtt_port=1883, web_port=8050))
    store, accounts = DuckDBStore(settings.store.path), Accounts(settings.auth.path)
    app = create_app(settings, store, settings.city.regions(), accounts, reference=settings.reference_layers())
    try:
        answer = app.server.test_client().get("/api/layers/reference/shelters.geojson")
        assert answer.status_code in (302, 401, 403) and b"features" not in answer.data
    finally:
        stop_app(app)
        store.close()
        accounts.close()
