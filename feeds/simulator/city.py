"""The demo city's devices, their state and what they would publish at a given moment.

No I/O here: `DemoCity.step(now)` advances the physics and returns (topic, payload) pairs, so tests can run a
scenario faster than real time. The publisher (feeds/simulator/publisher.py) sends them over MQTT. Three of the
city's systems are polled over HTTP instead, as real ones are (feeds/simulator/sources.py renders them in their
formats): the hydrology bureau's rural river stations, the satellite fire hotspots and the weather warnings.

One scenario cycle (default 20 minutes) plays, as fractions of the cycle:
  0.10–0.60  a rainstorm crosses the city from south-west to north-east: rain gauges rise, then rivers (with a
             lag), then waterlogging on urban roads, then traffic slows and congestion rises where it rains
  0.15–0.55  six cameras go offline (the camera platform reports online = 0, then they fall silent)
  0.15–0.60  the meteorological bureau's rainstorm warning (CAP): orange over the city, raised to red over the
             urban districts at 0.35 (an Update), cancelled when the storm has passed
  0.25       a cluster of straw-burning hotspots in a rural county (satellite detections, FIRMS)
  0.40–0.55  a building fire alarm in Lianchi
  0.50–0.65  a crowd gathers around the Ancient Lotus Pond (古莲花池)
Traffic follows the time of day in the city's time zone, with morning and evening rush hours.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from layers.crs import wgs84_to_bd09, wgs84_to_gcj02
from layers.regions import RegionIndex

URBAN = {"130602", "130606", "130607", "130608", "130609"}
LOTUS_POND = (115.4841, 38.8599)  # 古莲花池, WGS84 (approximate, from the reference's GCJ-02 city origin)

# kind: (domain, share of all entities, share placed in urban districts)
MIX = {
    "road_segment": ("traffic", 0.36, 0.7),
    "river_gauge": ("flood", 0.03, 0.4),
    "rain_gauge": ("flood", 0.09, 0.3),
    "waterlogging_sensor": ("flood", 0.05, 1.0),
    "smoke_detector": ("fire", 0.25, 0.8),
    "camera": ("security", 0.22, 0.75),
}
# The coordinates each domain's vendor publishes in (the feeds declare the same CRS in cityops.toml).
DOMAIN_CRS = {"traffic": wgs84_to_gcj02, "security": wgs84_to_bd09}
KIND_ZH = {
    "road_segment": "路段",
    "river_gauge": "河道水位站",
    "rain_gauge": "雨量站",
    "waterlogging_sensor": "积水监测点",
    "smoke_detector": "烟感",
    "camera": "摄像头",
}
KIND_EN = {
    "road_segment": "Road segment",
    "river_gauge": "River gauge",
    "rain_gauge": "Rain gauge",
    "waterlogging_sensor": "Waterlogging sensor",
    "smoke_detector": "Smoke detector",
    "camera": "Camera",
}


@dataclass(frozen=True)
class Phase:
    start: float
    end: float

    def weight(self, phase: float) -> float:
        """0 outside, rising and falling smoothly inside."""
        if not self.start <= phase <= self.end:
            return 0.0
        x = (phase - self.start) / (self.end - self.start)
        return math.sin(math.pi * x) ** 2


STORM = Phase(0.10, 0.60)
CAMERAS_OFF = Phase(0.15, 0.55)
HOTSPOTS_AT = 0.25
WARNING_WORSE_AT = 0.35
WARNING = Phase(0.15, 0.60)
FIRE = Phase(0.40, 0.55)
CROWD = Phase(0.50, 0.65)


class DemoCity:
    def __init__(
        self,
        regions: RegionIndex,
        *,
        entities: int = 2400,
        seed: int = 7,
        prefix: str = "baoding",
        cycle_s: float = 1200.0,
        timezone: str = "Asia/Shanghai",
        started: datetime | None = None,
    ):
        self.prefix = prefix
        self.cycle_s = cycle_s
        self.tz = ZoneInfo(timezone)
        self.rng = np.random.default_rng(seed)
        self.started = started
        self._place(regions, entities)
        self._init_state()
        self._seq = 0
        self._cursor = 0
        self._order = self.rng.permutation(len(self.ids))
        self.last_step: datetime | None = None  # the simulated moment of the latest step
        self._once: set[tuple[int, str]] = set()  # (cycle, incident) already announced
        self._offline_reported: set[int] = set()
        self.hotspots: list[dict] = []  # satellite detections, for the FIRMS file
        self.warnings: list[dict] = []  # CAP messages of the meteorological bureau, oldest first

    # -- layout --------------------------------------------------------------------------------------------
    def _place(self, regions: RegionIndex, total: int) -> None:
        districts = regions.level("district")
        urban = [d for d in districts if d.id in URBAN]
        rural = [d for d in districts if d.id not in URBAN]
        ids, kinds, domains, lons, lats, district_ids = [], [], [], [], [], []
        for kind, (domain, share, urban_share) in MIX.items():
            count = max(4, round(total * share))
            n_urban = round(count * urban_share)
            for n, pool in ((n_urban, urban), (count - n_urban, rural)):
                for lon, lat, district in self._points_in(pool, n):
                    ids.append(f"{kind[:2]}-{len(ids):05d}")
                    kinds.append(kind)
                    domains.append(domain)
                    lons.append(lon)
                    lats.append(lat)
                    district_ids.append(district)
        self.ids = ids
        self.kinds = np.array(kinds)
        self.domains = np.array(domains)
        self.lon = np.array(lons)
        self.lat = np.array(lats)
        self.district = np.array(district_ids)
        self.urban = np.isin(self.district, list(URBAN))
        # The hydrology bureau's stations (polled over HTTP); the city's own river gauges report over MQTT.
        self.bureau = (self.kinds == "river_gauge") & ~self.urban

    def _points_in(self, pool, n: int):
        if n <= 0:
            return []
        # Urban cores are denser: weight districts by inverse area so small urban districts get their share.
        areas = np.array([d.geometry.area for d in pool])
        weights = (1 / np.sqrt(areas)) / (1 / np.sqrt(areas)).sum()
        picks = self.rng.choice(len(pool), size=n, p=weights)
        out = []
        for i in picks:
            district = pool[i]
            minx, miny, maxx, maxy = district.geometry.bounds
            while True:
                x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
                if shapely.contains_xy(district.geometry, x, y):
                    out.append((x, y, district.id))
                    break
        return out

    def _init_state(self) -> None:
        n = len(self.ids)
        rng = self.rng
        self.free_flow = rng.uniform(40, 80, n)
        self.warning_level = np.round(rng.uniform(8, 20, n), 2)  # 警戒水位, metres
        self.guaranteed_level = np.round(self.warning_level + rng.uniform(1.5, 3.0, n), 2)  # 保证水位
        self.base_level = self.warning_level - rng.uniform(2.0, 3.5, n)
        self.river_level = self.base_level.copy()
        self.depth = np.zeros(n)  # waterlogging depth, cm
        self.rain = np.zeros(n)
        self.capacity = rng.integers(300, 1500, n)
        self.offline = np.zeros(n, dtype=bool)
        self.alarm = np.zeros(n, dtype=bool)
        cams = np.flatnonzero(self.kinds == "camera")
        self.outage_cameras = rng.choice(cams, size=min(6, len(cams)), replace=False)
        smoke = np.flatnonzero((self.kinds == "smoke_detector") & (self.district == "130606"))
        self.fire_detector = int(smoke[0]) if len(smoke) else int(np.flatnonzero(self.kinds == "smoke_detector")[0])
        d = np.hypot(self.lon - LOTUS_POND[0], self.lat - LOTUS_POND[1])
        self.crowd_cameras = np.flatnonzero((self.kinds == "camera") & (d < 0.03))
        if len(self.crowd_cameras) == 0:
            self.crowd_cameras = cams[np.argsort(d[cams])[:3]]

    # -- what gets published -------------------------------------------------------------------------------
    def entity_messages(self) -> list[tuple[str, bytes]]:
        """The registry: one retained message per device, with its place and thresholds."""
        out = []
        for i, entity_id in enumerate(self.ids):
            if self.bureau[i]:
                continue
            kind, domain = str(self.kinds[i]), str(self.domains[i])
            lon, lat = _as_published(domain, float(self.lon[i]), float(self.lat[i]))
            item = {
                "type": "entity",
                "id": entity_id,
                "domain": domain,
                "kind": kind,
                "name": {"zh_CN": f"{KIND_ZH[kind]} {entity_id}", "en": f"{KIND_EN[kind]} {entity_id}"},
                "lon": round(lon, 6),
                "lat": round(lat, 6),
                "attributes": self._attributes(i, kind),
            }
            out.append((f"{self.prefix}/{domain}/entity/{entity_id}", json.dumps(item, ensure_ascii=False).encode()))
        return out

    def _attributes(self, i: int, kind: str) -> dict:
        # `levels`: the four-colour thresholds of the metric that decides the device's status on the map.
        if kind == "road_segment":
            return {
                "free_flow_kmh": round(float(self.free_flow[i]), 1),
                "levels": {"metric": "congestion_index", "blue": 4, "yellow": 6, "orange": 8, "red": 9.5},
            }
        if kind == "river_gauge":
            w, g = float(self.warning_level[i]), float(self.guaranteed_level[i])
            return {
                "warning_level": w,
                "guaranteed_level": g,
                "levels": {
                    "metric": "water_level",
                    "blue": round(w - 0.5, 2),
                    "yellow": w,
                    "orange": round((w + g) / 2, 2),
                    "red": g,
                },
            }
        if kind == "rain_gauge":
            return {"levels": {"metric": "rain_1h", "blue": 20, "yellow": 30, "orange": 50, "red": 80}}
        if kind == "waterlogging_sensor":
            return {"levels": {"metric": "depth", "blue": 5, "yellow": 15, "orange": 27, "red": 40}}
        if kind == "smoke_detector":
            return {"levels": {"metric": "alarm", "red": 1}}
        cap = int(self.capacity[i])
        return {
            "capacity": cap,
            "levels": {
                "metric": "people",
                "blue": round(cap * 0.6),
                "yellow": round(cap * 0.8),
                "orange": cap,
                "red": round(cap * 1.3),
            },
        }

    def phase(self, now: datetime) -> tuple[int, float]:
        """Which cycle and how far into it (0–1)."""
        if self.started is None:
            self.started = now
        elapsed = max(0.0, (now - self.started).total_seconds())
        return int(elapsed // self.cycle_s), (elapsed % self.cycle_s) / self.cycle_s

    def step(self, now: datetime, count: int) -> list[tuple[str, bytes]]:
        """Advance to `now` and return `count` observation messages (round robin over the devices) plus events."""
        dt = 1.0 if self.last_step is None else max(0.0, (now - self.last_step).total_seconds())
        self.last_step = now
        cycle, phase = self.phase(now)
        events = self._advance(now, dt, cycle, phase)
        out = []
        n = len(self.ids)
        ts = now.isoformat().replace("+00:00", "Z")
        sent = 0
        tries = 0
        while sent < count and tries < n:
            i = int(self._order[self._cursor])
            self._cursor = (self._cursor + 1) % n
            tries += 1
            message = self._observation(i, ts)
            if message is not None:
                out.append(message)
                sent += 1
        return out + events

    def _advance(self, now: datetime, dt: float, cycle: int, phase: float) -> list[tuple[str, bytes]]:
        # Rain: a storm cell crossing the city south-west → north-east while the STORM phase lasts.
        w = STORM.weight(phase)
        progress = 0.0 if w == 0 else (phase - STORM.start) / (STORM.end - STORM.start)
        cx, cy = 115.15 + 0.75 * progress, 38.55 + 0.6 * progress
        dist2 = (self.lon - cx) ** 2 + (self.lat - cy) ** 2
        self.rain = 95.0 * w * np.exp(-dist2 / (2 * 0.22**2)) + self.rng.uniform(0, 0.3, len(self.ids)) * w
        # Compressed hydrology: a cycle of minutes stands for a storm of hours, so levels respond in seconds.
        scale = dt * (3600.0 / self.cycle_s) / 60.0
        self.river_level += scale * (0.02 * self.rain - 0.2 * (self.river_level - self.base_level))
        # Drains carry up to ~45 mm/h; roads flood only with what exceeds that, so waterlogging comes after rivers.
        self.depth = np.clip(self.depth + scale * (0.5 * (self.rain - 45.0)), 0, 80)
        self.offline[:] = False
        if CAMERAS_OFF.start <= phase <= CAMERAS_OFF.end:
            self.offline[self.outage_cameras] = True
        self.alarm[:] = False
        if FIRE.start <= phase <= FIRE.end:
            self.alarm[self.fire_detector] = True
        events = []
        if phase >= HOTSPOTS_AT and self._first(cycle, "hotspots"):
            self._hotspot_cluster(now)
        if WARNING.start <= phase <= WARNING.end and self._first(cycle, "warning"):
            self._warn(now, cycle, "Alert")
        if (
            WARNING_WORSE_AT <= phase <= WARNING.end
            and (cycle, "warning") in self._once
            and self._first(cycle, "warning-worse")
        ):
            self._warn(now, cycle, "Update")
        if phase > WARNING.end and (cycle, "warning") in self._once and self._first(cycle, "warning-cancel"):
            self._warn(now, cycle, "Cancel")
        if self.alarm[self.fire_detector] and self._first(cycle, "fire"):
            i = self.fire_detector
            events.append(
                self._event(
                    now,
                    f"fire-{cycle}",
                    "fire",
                    "fire_alarm",
                    self.lon[i],
                    self.lat[i],
                    "red",
                    "楼宇火灾报警 / Building fire alarm",
                    f"smoke detector {self.ids[i]} in alarm",
                    entity=self.ids[i],
                )  # fmt: skip
            )
        if CROWD.weight(phase) > 0.5 and self._first(cycle, "crowd"):
            i = int(self.crowd_cameras[0])
            events.append(
                self._event(
                    now,
                    f"crowd-{cycle}",
                    "security",
                    "crowding",
                    self.lon[i],
                    self.lat[i],
                    "orange",
                    "人群聚集 / Crowd gathering",
                    "crowd near the Ancient Lotus Pond (古莲花池)",
                    entity=self.ids[i],
                )  # fmt: skip
            )
        return events

    def _first(self, cycle: int, incident: str) -> bool:
        if (cycle, incident) in self._once:
            return False
        self._once.add((cycle, incident))
        return True

    def _event(self, now, event_id, domain, event_type, lon, lat, severity, title, description, entity=None):
        """An event message; (lon, lat) in WGS84, published in the domain vendor's coordinates."""
        lon, lat = _as_published(domain, float(lon), float(lat))
        item = {"type": "event", "id": event_id, "domain": domain, "event_type": event_type,
                "ts": now.isoformat().replace("+00:00", "Z"), "lon": round(lon, 6), "lat": round(lat, 6),
                "severity": severity, "title": title, "description": description}  # fmt: skip
        if entity is not None:
            item["entity"] = entity
        return f"{self.prefix}/{domain}/event/{event_id}", json.dumps(item, ensure_ascii=False).encode()

    def _observation(self, i: int, ts: str) -> tuple[str, bytes] | None:
        if self.bureau[i]:
            return None
        kind, domain = self.kinds[i], self.domains[i]
        rng = self.rng
        self._seq += 1
        if kind == "road_segment":
            local = self._hour()
            rush = math.exp(-((local - 8.0) ** 2) / 1.2) + math.exp(-((local - 18.0) ** 2) / 1.5)
            urban = 1.0 if self.urban[i] else 0.45
            # Heavy rain floods urban roads first: traffic there slows most.
            slow = (
                0.55 * rush * urban + (0.012 if self.urban[i] else 0.004) * min(self.rain[i], 60) + rng.normal(0, 0.04)
            )
            speed = max(3.0, self.free_flow[i] * (1 - min(slow, 0.92)))
            tpi = float(np.clip(10 * (1 - speed / self.free_flow[i]) * 1.25, 0, 10))
            values = {"speed": round(speed, 1), "congestion_index": round(tpi, 2)}
            units = {"speed": "km/h", "congestion_index": "TPI"}
        elif kind == "river_gauge":
            values = {"water_level": round(float(self.river_level[i]) + rng.normal(0, 0.01), 2)}
            units = {"water_level": "m"}
        elif kind == "rain_gauge":
            values = {"rain_1h": round(max(0.0, float(self.rain[i])), 1)}
            units = {"rain_1h": "mm"}
        elif kind == "waterlogging_sensor":
            values = {"depth": round(float(self.depth[i]), 1)}
            units = {"depth": "cm"}
        elif kind == "smoke_detector":
            values = {"alarm": 1 if self.alarm[i] else 0, "battery": round(rng.uniform(60, 100))}
            units = {"alarm": "", "battery": "%"}
        else:
            if self.offline[i]:
                # The platform says so once; then the camera is silent and its data goes stale.
                if i in self._offline_reported:
                    return None
                self._offline_reported.add(i)
                values, units = {"online": 0}, {"online": ""}
            else:
                self._offline_reported.discard(i)
                people = self._people(i)
                values, units = {"online": 1, "people": people}, {"online": "", "people": "persons"}
        item = {
            "type": "observation",
            "entity": self.ids[i],
            "id": f"{self.ids[i]}-{self._seq}",
            "ts": ts,
            "values": values,
            "units": units,
        }
        return f"{self.prefix}/{domain}/obs/{self.ids[i]}", json.dumps(item).encode()

    def _people(self, i: int) -> int:
        base = self.capacity[i] * (0.15 + 0.25 * math.exp(-((self._hour() - 19.0) ** 2) / 6.0))
        if i in self.crowd_cameras and self._crowd_weight > 0:
            base += self.capacity[i] * 1.5 * self._crowd_weight
        return int(max(0, self.rng.normal(base, base * 0.05 + 1)))

    @property
    def _crowd_weight(self) -> float:
        if self.last_step is None:
            return 0.0
        return CROWD.weight(self.phase(self.last_step)[1])

    def _hour(self) -> float:
        local = (self.last_step or datetime.now(self.tz)).astimezone(self.tz)
        return local.hour + local.minute / 60

    def _hotspot_cluster(self, now: datetime) -> None:
        """Four VIIRS detections of one overpass around a rural field; the file keeps a day of them."""
        rural = np.flatnonzero(~self.urban & (self.kinds == "rain_gauge"))
        anchor = int(self.rng.choice(rural)) if len(rural) else 0
        overpass = now.replace(second=0, microsecond=0)
        for _ in range(4):
            self.hotspots.append({
                "lon": float(self.lon[anchor] + self.rng.normal(0, 0.006)),
                "lat": float(self.lat[anchor] + self.rng.normal(0, 0.005)),
                "at": overpass,
                "frp": round(float(self.rng.uniform(4, 30)), 1),
                "bright_ti4": round(float(self.rng.uniform(320, 350)), 2),
                "confidence": str(self.rng.choice(["n", "n", "h"])),
            })  # fmt: skip
        self.hotspots = [h for h in self.hotspots if (now - h["at"]).total_seconds() < 86_400]

    def _warn(self, now: datetime, cycle: int, msg_type: str) -> None:
        """The meteorological bureau's rainstorm warning for the city, its Update, and its cancellation."""
        previous = self.warnings[-1] if self.warnings and self.warnings[-1]["cycle"] == cycle else None
        self.warnings.append({"cycle": cycle, "type": msg_type, "sent": now.replace(microsecond=0),
                              "identifier": f"BDQXT-{cycle:05d}-{msg_type.lower()}",
                              "references": previous})  # fmt: skip
        self.warnings = self.warnings[-20:]


def _as_published(domain: str, lon: float, lat: float) -> tuple[float, float]:
    """WGS84 → the coordinates the domain's vendor publishes in (the feeds declare the same CRS)."""
    return DOMAIN_CRS[domain](lon, lat) if domain in DOMAIN_CRS else (lon, lat)
