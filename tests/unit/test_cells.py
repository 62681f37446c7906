"""Points gathered into screen cells by the server (layers/cells.py): counts, statuses and a bounded answer."""

import random

import numpy as np
import orjson
import pytest

from alerts.levels import STATUS_CODE, status_codes, summarize, summarize_codes
from layers.cells import CELL_PX, POINTS_IN_VIEW, View, gather, world_xy

CODE_STATUS = {code: status for status, code in STATUS_CODE.items()}
CITY = View(9, 114.3, 38.2, 116.6, 39.6)  # the demo city at the wall's zoom


def wall_cells(lon, lat, codes: str, view: View, points: list[dict]) -> list[dict]:
    """As the wall's layer API gathers them: statuses as letters, summarised by the rule of the device levels."""
    return gather(lon, lat, status_codes(codes, len(lon)), view, points, summarize_codes)


def layer(n: int, seed: int = 1, statuses: str = "kkkkkkkkkkkkkkkkkknxbyor"):
    rng = np.random.default_rng(seed)
    lon = np.round(rng.uniform(114.5, 116.4, n), 5)
    lat = np.round(rng.uniform(38.4, 39.5, n), 5)
    codes = "".join(random.Random(seed).choice(statuses) for _ in range(n))
    points = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon[i], lat[i]]},
               "properties": {"i": i, "id": f"d{i}", "name": f"device {i}"}} for i in range(n)]  # fmt: skip
    return lon, lat, codes, points


def test_cells_count_every_point_in_view_once_and_summarise_as_summarize_says():
    lon, lat, codes, points = layer(50_000)
    features = wall_cells(lon, lat, codes, CITY, points)
    orjson.dumps(features)  # as the layer API serves them
    cells = [f for f in features if "n" in f["properties"]]
    alone = [f for f in features if "n" not in f["properties"]]
    assert cells, "50,000 points at the city's zoom are gathered into cells"
    assert sum(f["properties"]["n"] for f in cells) + len(alone) == 50_000  # the view holds the whole city
    # Each cell's status is what summarize makes of the points in the same screen cell.
    x, y = world_xy(lon, lat)
    across = 256 * 2**CITY.zoom / CELL_PX
    members: dict[tuple[int, int], list[str]] = {}
    for i in range(len(lon)):
        members.setdefault((int(x[i] * across), int(y[i] * across)), []).append(CODE_STATUS[codes[i]])
    expected = sorted((len(m), STATUS_CODE[summarize(m)]) for m in members.values() if len(m) > 1)
    assert sorted((f["properties"]["n"], f["properties"]["s"]) for f in cells) == expected
    for f in alone:  # a point alone is itself, with its status, to be clicked through
        assert f["properties"]["s"] == codes[f["properties"]["i"]] and f["properties"]["id"].startswith("d")


def test_what_is_sent_is_bounded_by_the_screen_not_by_the_city():
    lon, lat, codes, points = layer(400_000, seed=2)
    features = wall_cells(lon, lat, codes, CITY, points)
    px_across = 256 * 2**CITY.zoom
    x0, y1 = world_xy(np.array([CITY.west]), np.array([CITY.south]))
    x1, y0 = world_xy(np.array([CITY.east]), np.array([CITY.north]))
    screen_cells = (2 * (x1 - x0)[0] * px_across / CELL_PX + 2) * (2 * (y1 - y0)[0] * px_across / CELL_PX + 2)
    assert len(features) <= screen_cells
    assert sum(f["properties"]["n"] for f in features) == 400_000


def test_a_view_with_few_points_gets_the_points_and_their_statuses():
    lon, lat, codes, points = layer(50_000, seed=3)
    street = View(16, 115.47, 38.86, 115.48, 38.865)
    features = wall_cells(lon, lat, codes, street, points)
    assert 0 < len(features) <= POINTS_IN_VIEW
    for f in features:
        i = f["properties"]["i"]
        assert f["properties"]["s"] == codes[i] and "n" not in f["properties"]
        assert 115.46 <= lon[i] <= 115.49 and 38.8575 <= lat[i] <= 38.8675  # the padded view


def test_a_red_device_makes_its_cell_red():
    lon, lat, codes, points = layer(20_000, seed=4, statuses="k")
    codes = codes[:123] + "r" + codes[124:]
    red = [f for f in wall_cells(lon, lat, codes, CITY, points) if f["properties"]["s"] == "r"]
    assert len(red) == 1 and red[0]["properties"].get("n", 1) >= 1


def test_statuses_not_yet_known_count_as_no_data():
    lon, lat, _codes, points = layer(10_000, seed=5)
    assert {f["properties"]["s"] for f in wall_cells(lon, lat, "", CITY, points)} == {"n"}


@pytest.mark.parametrize(
    "zoom, bbox, message",
    [(None, "1,2,3,4", "give z and bbox"), ("9", "1,2,3", "west,south,east,north"), ("30", "1,2,3,4", "zoom"),
     ("9", "3,2,1,4", "west < east"), ("x", "1,2,3,4", "could not convert")],
)  # fmt: skip
def test_a_bad_view_is_refused_with_what_is_wrong(zoom, bbox, message):
    with pytest.raises(ValueError, match=message):
        View.parse(zoom, bbox)
