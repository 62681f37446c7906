"""The one configuration file (TOML), validated with pydantic; `CITYOPS_SECTION__KEY` variables override it.

A wrong key or value stops start-up with the file, the line, the key and the reason (ConfigError).
Relative paths in the file are relative to the file's folder. Each `[[feeds]]` table is read by the settings model
of its transport (feeds/transports.py), which lives with that transport in feeds/.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from alerts.org import Organisation, OrgError
from alerts.units import UnitSettings
from alerts.working_time import WorkingCalendar
from dashboard.settings import AuthSettings, WebSettings
from feeds.http import DEMO_SOURCES, HttpFeedSettings
from feeds.transports import TRANSPORTS, FeedSettings
from layers.city import CitySettings
from layers.reference import ReferenceLayers, ReferenceLayerSettings, load_reference_layers
from layers.regions import RegionIndex
from notify.settings import NotifySettings
from store.limits import Limits
from supervision.reports import ReportSettings

ENV_PREFIX = "CITYOPS_"


class ConfigError(Exception):
    """A configuration problem, already phrased for the person who wrote the file."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSettings(Section):
    # duckdb: one embedded file, one CityOps process (the default). postgresql: a server several nodes share.
    engine: Literal["duckdb", "postgresql"] = "duckdb"
    # The DuckDB file; with PostgreSQL, where this node keeps the files beside the store (photos, reports).
    path: Path
    # PostgreSQL: a libpq URL without its password, e.g. postgresql://cityops@db1:5432,db2:5432/cityops
    # ?target_session_attrs=read-write (several hosts: the nodes follow a promoted standby).
    url: str | None = None
    # Where its password is, never the password: an environment variable's name, or a file only we may read (600).
    password_env: str | None = None
    password_file: Path | None = None
    batch_max_rows: Annotated[int, Field(ge=1, le=100_000)] = 5_000
    batch_max_delay_ms: Annotated[int, Field(ge=1, le=10_000)] = 100
    queue_size: Annotated[int, Field(ge=100)] = 20_000
    # Observations older than this are removed; their hourly and daily summaries (kept current) stay. 0 keeps all.
    keep_observations_days: Annotated[int, Field(ge=0)] = 90
    # DuckDB's own memory (cache and queries); its default, 80% of the machine, would crowd out everything else,
    # and its cache fills to this limit and stays full. The memory benchmark (BENCHMARKS.md) says how the process
    # fares with the rest of CityOps beside it.
    memory_limit_mb: Annotated[int, Field(ge=128)] = 384

    @model_validator(mode="after")
    def _engine_has_what_it_needs(self) -> StoreSettings:
        if self.engine == "postgresql":
            if not self.url:
                raise ValueError('engine = "postgresql" needs a url (postgresql://user@host:port/database)')
            if not self.url.startswith(("postgresql://", "postgres://")):
                raise ValueError(f"url must be a libpq URL (postgresql://…), not {self.url!r}")
            if urlsplit(self.url).password is not None:
                raise ValueError("url holds a password: give it through password_env or password_file instead")
        elif self.url or self.password_env or self.password_file:
            raise ValueError('url, password_env and password_file are for engine = "postgresql"')
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        return self

    def password(self) -> str | None:
        """The database password from its variable or file (None: libpq's own PGPASSWORD or ~/.pgpass, if any)."""
        return password_from(self.password_env, self.password_file, "store")


class ClusterSettings(Section):
    # This process among the nodes sharing a PostgreSQL store (its heartbeat, `cityops status`, /api/health).
    node: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        default_factory=lambda: socket.gethostname()[:40] or "cityops"
    )
    # How often a node that does not lead tries to, and the leader checks it still does (the lock's connection).
    leader_check_s: Annotated[float, Field(gt=0, le=5)] = 1.0


class MqttSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 1883
    client_id: str = "cityops-ingest"
    protocol: Literal["5", "3.1.1"] = "5"
    session_expiry_s: Annotated[int, Field(ge=0)] = 86_400
    # Nodes sharing a PostgreSQL store share the feeds' messages through this shared subscription group; each node
    # then connects as "<client_id>-<cluster.node>", a persistent session of its own.
    shared_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    username: str | None = None
    # Where the password is, never the password: the name of an environment variable, or a file only the service
    # may read (mode 600).
    password_env: str | None = None
    password_file: Path | None = None
    tls: bool = False
    tls_ca: Path | None = None  # the CA that signed the broker's certificate (default: the system's)
    tls_cert: Path | None = None  # a client certificate, when the broker asks for one
    tls_key: Path | None = None

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttSettings:
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        if (self.password_env or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self

    def password(self) -> str | None:
        """The broker password from its variable or file; ConfigError says what is missing or too open."""
        return password_from(self.password_env, self.password_file, "mqtt")

    def tls_options(self) -> dict | None:
        """paho's tls_set arguments (a missing file: the system's CAs, no client certificate); None: no TLS."""
        if not self.tls:
            return None
        files = {"ca_certs": self.tls_ca, "certfile": self.tls_cert, "keyfile": self.tls_key}
        return {key: None if path is None else str(path) for key, path in files.items()}


def password_from(env: str | None, file: Path | None, section: str) -> str | None:
    """A password from the environment variable named `env` or from `file` (mode 600), as [section] gives them;
    ConfigError says what is missing or too open."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{section}.password_env: the variable {env} is not set")
        return value
    if file:
        return read_secret(file, f"{section}.password_file")
    return None


def read_secret(path: Path, key: str) -> str:
    """A secret from a file only its owner may read; anything more open is refused, since others could read it."""
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(f"{key}: {path} may be read by others (mode {mode & 0o777:o}); run: chmod 600 {path}")
    return value


class BrokerSettings(Section):
    """The embedded broker of the demo; a deployment points `mqtt` at its own broker instead."""

    embedded: bool = False
    kind: Literal["auto", "mosquitto", "amqtt"] = "auto"
    data_dir: Path = Path("var/broker")


class SimulatorSettings(Section):
    enabled: bool = False
    rate: Annotated[float, Field(gt=0, le=100_000)] = 300.0  # messages a second
    entities: Annotated[int, Field(ge=40, le=1_000_000)] = 2_400
    seed: int = 7
    topic_prefix: str = "baoding"
    scenario_cycle_s: Annotated[int, Field(ge=60)] = 1_200  # the rainstorm & incidents come round this often
    # `run` publishes the demo city's MQTT messages itself; false when `cityops simulate` does it from a process of
    # its own (a load test, so that the load does not share CityOps' interpreter).
    publish: bool = True


Minutes = Annotated[float, Field(gt=0)]


class StageLimits(Section):
    """Minutes allowed for a stage, per severity."""

    red: Minutes
    orange: Minutes
    yellow: Minutes
    blue: Minutes


class TimeLimits(Section):
    acknowledge: StageLimits
    dispatch: StageLimits
    resolve: StageLimits


class AlertSettings(Section):
    rules: Path | None = None
    calendar: Path | None = None  # working days and hours, for limits in working time (alerts/working_time.py)
    org: Path | None = None  # centres, departments, people, roster, routing (alerts/org.py)
    evaluate_every_s: Annotated[int, Field(ge=1, le=300)] = 5
    time_limits: TimeLimits | None = None


class Settings(Section):
    city: CitySettings
    store: StoreSettings
    cluster: ClusterSettings = ClusterSettings()
    mqtt: MqttSettings = MqttSettings()
    broker: BrokerSettings = BrokerSettings()
    web: WebSettings = WebSettings()
    auth: AuthSettings = AuthSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    feeds: list[FeedSettings] = Field(default_factory=list)
    alerts: AlertSettings = AlertSettings()
    units: list[UnitSettings] = Field(default_factory=list)
    limits: Limits = Limits()
    layers: list[ReferenceLayerSettings] = Field(default_factory=list)  # shelters, hospitals … on the maps
    notify: NotifySettings = NotifySettings()  # channels notifications leave by (notify/settings.py)
    reports: ReportSettings = ReportSettings()  # the reports made on schedule (supervision/reports.py)
    _file: Path | None = PrivateAttr(default=None)  # the file it was read from, for errors found after loading

    def working_calendar(self) -> WorkingCalendar | None:
        """The city's working calendar ([alerts] calendar), or None; CalendarError naming the file and line."""
        path = self.alerts.calendar
        return WorkingCalendar.load(path, self.city.timezone) if path is not None else None

    def organisation(self, regions: RegionIndex) -> Organisation | None:
        """The city's organisation ([alerts] org), or None; OrgError naming the file and line, also when a feed's
        owner is not one of its departments."""
        if self.alerts.org is None:
            return None
        org = Organisation.load(self.alerts.org, regions)
        self._check_owners(org)
        return org

    def _check_owners(self, org: Organisation) -> None:
        # An OrgError, not a ConfigError: whoever loads the organisation (`config-check`, start-up, the reload of
        # the file while running) reports it, and a reloaded file that drops a department owning a feed is refused.
        departments = sorted(unit.id for unit in org.units.values() if unit.kind != "centre")
        strays = [(n, feed) for n, feed in enumerate(self.feeds) if feed.owner not in (None, *departments)]
        if not strays:
            return
        text = self._file.read_text(encoding="utf-8") if self._file is not None else ""
        lines = [f"{self._file or 'the configuration'}: a feed's owner is one of the departments of the organisation "
                 f"{self.alerts.org}:"]  # fmt: skip
        for n, feed in strays:
            what = "a centre" if feed.owner in org.units else "no unit"
            close = difflib.get_close_matches(feed.owner, departments, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            line = _line_of(text, ("feeds", str(n), "owner"))
            where = f"{self._file}:{line}" if line else str(self._file or "the configuration")
            lines.append(f"  {where}: feeds.{n}.owner: feed {feed.id}: {feed.owner!r} is {what} of the organisation, "
                         f"not a department{hint}")  # fmt: skip
        raise OrgError("\n".join(lines))

    def reference_layers(self) -> ReferenceLayers:
        """The reference layers, read from their files (GeoFileError naming the file and the feature)."""
        return load_reference_layers(self.layers, self.city.center)

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        for name, items in (("feed", self.feeds), ("unit", self.units), ("layer", self.layers)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{name} id {item.id!r} appears twice")
                seen.add(item.id)
        return self

    @model_validator(mode="after")
    def _demo_sources_need_the_simulator(self) -> Settings:
        demo = [f.id for f in self.feeds if isinstance(f, HttpFeedSettings) and f.from_demo]
        if demo and not self.simulator.enabled:
            raise ValueError(f"feed {demo[0]} reads {DEMO_SOURCES}…, which only the demo simulator serves "
                             "([simulator] enabled = true)")  # fmt: skip
        return self


def load(path: str | Path, environ: dict[str, str] | None = None, state_dir: Path | None = None) -> Settings:
    """The configuration in `path`, `CITYOPS_*` variables of `environ` (default: the process's) applied over it.
    Relative paths are relative to the file's folder, except those of what CityOps writes (the store, the
    broker's data, the accounts), which are relative to `state_dir` when it is given: the demo's configuration is
    shipped inside the package, and writes under the folder it was started from."""
    path = Path(path)
    environ = dict(os.environ) if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    overrides = _apply_env(data, environ)
    try:
        settings = Settings.model_validate(data, context={"base": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, text, overrides)) from None
    settings._file = path
    return _resolve_paths(settings, path.parent, state_dir or path.parent)


def config_warnings(settings: Settings, path: str | Path, environ: dict[str, str] | None = None) -> list[str]:
    """What the configuration in `path` sets to no effect, one line each with where it is set: [mqtt]'s sign-in and
    TLS while the embedded broker runs, which signs CityOps' clients in with accounts of its own."""
    if not settings.broker.embedded:
        return []
    environ = dict(os.environ) if environ is None else environ
    ignored = [key for key in ("username", "password_env", "password_file", "tls", "tls_ca", "tls_cert", "tls_key")
               if getattr(settings.mqtt, key) not in (None, False)]  # fmt: skip
    text = Path(path).read_text(encoding="utf-8") if ignored else ""
    lines = []
    for key in ignored:
        variable = f"{ENV_PREFIX}MQTT__{key.upper()}"
        line = _line_of(text, ("mqtt", key))
        where = f"environment variable {variable}" if variable in environ else f"{path}:{line}" if line else str(path)
        lines.append(f"warning: {where}: mqtt.{key} is ignored: the embedded broker ([broker] embedded = true) "
                     "signs CityOps' clients in with accounts of its own; embedded = false uses yours")  # fmt: skip
    return lines


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[tuple[str, ...], str]:
    """Set CITYOPS_SECTION__KEY=value into the parsed file; returns which keys came from which variable."""
    applied = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw  # a bare word is a string
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                break
        else:
            target[keys[-1]] = value
            applied[keys] = name
    return applied


def _describe(exc: ValidationError, path: Path, text: str, overrides: dict[tuple[str, ...], str]) -> str:
    lines = [f"{path}: the configuration is not valid:"]
    for error in exc.errors():
        loc, reason = _feed_error(tuple(str(part) for part in error["loc"]), error)
        key = ".".join(loc) or "(top level)"
        if reason is None:
            reason = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                reason = "unknown key (check the spelling; see cityops/demo/cityops.toml for every key)"
            elif error["type"] == "missing":
                reason = "required key is missing"
        variable = next((v for k, v in overrides.items() if loc[: len(k)] == k), None)
        if variable:
            lines.append(f"  environment variable {variable}: {key}: {reason}")
        else:
            line = _line_of(text, loc)
            where = f"{path}:{line}" if line else str(path)
            lines.append(f"  {where}: {key}: {reason}")
    return "\n".join(lines)


def _feed_error(loc: tuple[str, ...], error: dict) -> tuple[tuple[str, ...], str | None]:
    """A feed's error placed without pydantic's step through the transport's model (feeds.0.mqtt.crs is feeds.0.crs
    in the file), and said in the feed's terms where pydantic's words would not help (None: pydantic's will do)."""
    if loc[:1] != ("feeds",) or len(loc) < 2:
        return loc, None
    known = ", ".join(TRANSPORTS)
    if error["type"] == "union_tag_invalid":
        return (*loc, "transport"), f"unknown transport {error['ctx']['tag']!r}; transports: {known}"
    if error["type"] == "union_tag_not_found":
        return (*loc, "transport"), f"required key is missing (one of {known})"
    if len(loc) < 3 or loc[2] not in TRANSPORTS:
        return loc, None
    transport, loc = loc[2], (*loc[:2], *loc[3:])
    owners = [name for name, t in TRANSPORTS.items() if len(loc) == 3 and loc[2] in t.settings.model_fields]
    if error["type"] == "extra_forbidden" and owners:
        return loc, f"'{loc[2]}' is a key of {' and '.join(owners)} feeds, not of {transport} feeds"
    return loc, None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """The line of the key at `loc` (or of its table, or of the nearest enclosing table) in the TOML text."""
    # Walk the file keeping the current table as a path like ("feeds", "2"), counting [[array]] entries.
    table: tuple[str, ...] = ()
    counts: dict[str, int] = {}
    best: int | None = None
    best_len = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = header.group(2)
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                table = (*name.split("."), str(counts[name]))
            else:
                parts = name.split(".")
                # [feeds.mapping] after [[feeds]] belongs to the latest feeds entry
                table = (parts[0], str(counts[parts[0]]), *parts[1:]) if parts[0] in counts else tuple(parts)
            path = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = (*table, key.group(1))
        depth = 0
        while depth < min(len(path), len(loc)) and path[depth] == loc[depth]:
            depth += 1
        if depth == len(path) and depth > best_len:
            best, best_len = number, depth
    return best


def _resolve_paths(settings: Settings, base: Path, state_dir: Path) -> Settings:
    def absolute(p: Path, under: Path = base) -> Path:
        return p if p.is_absolute() else (under / p).resolve()

    for level in settings.city.levels:
        level.file = absolute(level.file)
    for layer in settings.layers:
        layer.file = absolute(layer.file)
    settings.store.path = absolute(settings.store.path, state_dir)
    settings.broker.data_dir = absolute(settings.broker.data_dir, state_dir)
    settings.auth.path = absolute(settings.auth.path, state_dir)
    if settings.store.password_file is not None:
        settings.store.password_file = absolute(settings.store.password_file)
    for key in ("password_file", "tls_ca", "tls_cert", "tls_key"):
        if getattr(settings.mqtt, key) is not None:
            setattr(settings.mqtt, key, absolute(getattr(settings.mqtt, key)))
    if settings.alerts.rules is not None:
        settings.alerts.rules = absolute(settings.alerts.rules)
    for key in ("calendar", "org"):
        if getattr(settings.alerts, key) is not None:
            setattr(settings.alerts, key, absolute(getattr(settings.alerts, key)))
    for feed in settings.feeds:
        for key, value in feed:
            if isinstance(value, Path):  # whatever its transport calls it
                setattr(feed, key, absolute(value))
    return settings
