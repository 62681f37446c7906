"""Build cityops/demo/org.yaml, the demo city's organisation: a centre for the city, each district and each town,
departments per domain in the city and each district, grid workers in the urban core, a duty roster and routing.

Run: .venv/bin/python scripts/build_demo_org.py  (after build_demo_city.py; the output is committed and
deterministic). The names follow how Chinese cities name these bodies; the people are demo accounts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "cityops" / "demo"
OUT = DEMO / "org.yaml"
CORE = ("130602", "130606")  # grid workers here

# kind, domains, Chinese name (after the district's), English name (after the district's)
DEPARTMENTS = [
    ("fire", ["fire"], "消防救援大队", "Fire and Rescue Brigade"),
    ("police", ["security"], "公安分局", "Public Security Bureau"),
    ("traffic_police", ["traffic"], "交警大队", "Traffic Police Brigade"),
    ("water", ["flood"], "水利局", "Water Resources Bureau"),
    ("urban_management", ["hotline", "env"], "城市管理综合执法局", "Urban Management Bureau"),
]
CITY_DEPARTMENTS = [
    ("fire", ["fire"], "保定市消防救援支队", "Baoding Fire and Rescue Detachment"),
    ("police", ["security"], "保定市公安局", "Baoding Public Security Bureau"),
    ("traffic_police", ["traffic"], "保定市公安局交通警察支队", "Baoding Traffic Police Detachment"),
    ("water", ["flood"], "保定市水利局", "Baoding Water Resources Bureau"),
    ("urban_management", ["hotline", "env"], "保定市城市管理综合执法局", "Baoding Urban Management Bureau"),
]


def dept_id(kind: str) -> str:
    return kind.replace("_", "-")


def features(name: str) -> list[dict]:
    return json.loads((DEMO / "regions" / name).read_text(encoding="utf-8"))["features"]


def flow(item: dict) -> str:
    """One YAML flow mapping (JSON is YAML), Chinese kept as it is."""
    return json.dumps(item, ensure_ascii=False)


def main() -> None:
    districts = sorted((f["properties"]["adcode"], f["properties"]["name"], f["properties"]["name_en"])
                        for f in features("districts.geojson"))  # fmt: skip
    towns = sorted((f["properties"]["code"], f["properties"]["name"], f["properties"]["name_en"],
                     f["properties"]["areaCode"]) for f in features("towns.geojson"))  # fmt: skip
    grids = sorted(f["properties"]["id"] for f in features("grids.geojson"))

    centres = [{"id": "city", "region": "130600",
                "name": {"zh_CN": "保定市城市运行管理服务中心", "en": "Baoding City Operations Centre"}}]  # fmt: skip
    centres += [{"id": f"d{code}", "region": code, "name": {"zh_CN": f"{zh}城市运行管理中心", "en": f"{en} Centre"}}
                for code, zh, en in districts]  # fmt: skip
    centres += [{"id": f"t{code}", "region": code, "name": {"zh_CN": f"{zh}综合治理中心", "en": f"{en} Centre"}}
                for code, zh, en, _ in towns]  # fmt: skip

    departments = [{"id": f"{dept_id(kind)}-city", "centre": "city", "kind": kind, "domains": domains,
                    "name": {"zh_CN": zh, "en": en}} for kind, domains, zh, en in CITY_DEPARTMENTS]  # fmt: skip
    for code, district_zh, district_en in districts:
        for kind, domains, zh, en in DEPARTMENTS:
            departments.append({"id": f"{dept_id(kind)}-{code}", "centre": f"d{code}", "kind": kind,
                                "domains": domains,
                                "name": {"zh_CN": f"{district_zh}{zh}", "en": f"{district_en} {en}"}})  # fmt: skip

    people = [{"account": "supervisor", "unit": "city", "role": "supervisor"},
              {"account": "leader", "unit": "d130606", "role": "district_leader"},
              {"account": "duty", "unit": "city", "role": "duty_officer"},
              {"account": "duty-night", "unit": "city", "role": "duty_officer"}]  # fmt: skip
    roster = [{"unit": "city", "from": "08:00", "to": "20:00", "person": "duty"},
              {"unit": "city", "from": "20:00", "to": "08:00", "person": "duty-night"}]  # fmt: skip
    for code, _, _ in districts:
        people += [{"account": f"duty-{code}", "unit": f"d{code}", "role": "duty_officer"},
                   {"account": f"night-{code}", "unit": f"d{code}", "role": "duty_officer"}]  # fmt: skip
        roster += [{"unit": f"d{code}", "from": "08:00", "to": "20:00", "person": f"duty-{code}"},
                   {"unit": f"d{code}", "from": "20:00", "to": "08:00", "person": f"night-{code}"}]  # fmt: skip
        people.append({"account": f"crew-fire-{code}", "unit": f"fire-{code}", "role": "field_worker"})
        people.append({"account": f"duty-fire-{code}", "unit": f"fire-{code}", "role": "duty_officer"})
    for code, _, _, district in towns:
        if district in CORE:
            people.append({"account": f"duty-{code}", "unit": f"t{code}", "role": "duty_officer"})
            roster.append({"unit": f"t{code}", "from": "08:30", "to": "17:30", "person": f"duty-{code}",
                           "days": [1, 2, 3, 4, 5]})  # fmt: skip
    people += [{"account": f"grid-{grid.lower()}", "unit": f"t{grid.split('-')[0]}", "role": "field_worker",
                "grids": [grid]} for grid in grids]  # fmt: skip

    routing = [{"domain": "system", "centre": "city"}]
    routing += [{"domain": d, "centre": "city", "department": f"{dept_id(kind)}-city"}
                for kind, domains, _, _ in CITY_DEPARTMENTS for d in domains]  # fmt: skip
    for code, _, _ in districts:
        routing += [{"region": code, "domain": d, "centre": f"d{code}", "department": f"{dept_id(kind)}-{code}"}
                    for kind, domains, _, _ in DEPARTMENTS for d in domains]  # fmt: skip

    # The city centre hears of every red and orange incident, and of every task raised to it, on the demo's bus.
    subscriptions = [{"unit": "city", "channel": "bus", "severity": ["red", "orange"]},
                     {"unit": "city", "channel": "bus", "events": ["escalation"]}]  # fmt: skip
    # Receipt limits by severity, counted on the clock for what cannot wait and in working hours for the rest.
    limits = {"receipt": {"red": "15m", "orange": "30m", "yellow": "2wh", "blue": "4wh"}, "report": "2wd"}
    lines = [
        "# The demo city's organisation, built by scripts/build_demo_org.py from the demo's regions.",
        "# Its people are demo accounts. A city writes its own; `cityops org check` reads it.",
        "",
    ]
    for section, items in (("centres", centres), ("departments", departments), ("people", people),
                           ("roster", roster), ("routing", routing)):  # fmt: skip
        if section == "routing":
            lines += ["time_limits:", *[f"  {stage}: {flow(limit)}" for stage, limit in limits.items()]]
            lines += ["subscriptions:", *[f"  - {flow(s)}" for s in subscriptions]]
        lines.append(f"{section}:")
        lines += [f"  - {flow(item)}" for item in items]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = {s: len(i) for s, i in (("centres", centres), ("departments", departments), ("people", people),
                                      ("roster", roster), ("routing", routing))}  # fmt: skip
    print(f"wrote {OUT.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    sys.exit(main())
