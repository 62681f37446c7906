"""The city's organisation as data (区镇两级, 网格联动): its centres at each region level, its departments, its people,
who is on duty when, and where a new incident goes. The city keeps it in one YAML file ([alerts] org), checked with
`cityops org check FILE` and at start-up, every mistake with its file and line:

    centres:                     # one per region it answers for: the city's, each district's, each town's
      - {id: city, region: "130600", name: {zh_CN: 保定市城市运行管理服务中心, en: Baoding City Operations Centre}}
      - {id: d130629, region: "130629", name: {zh_CN: 容城县城运中心, en: Rongcheng County Centre}}
    departments:                 # who acts: under a centre, for some domains, in some regions (default: its centre's)
      - {id: fire-130629, centre: d130629, kind: fire, domains: [fire], name: {zh_CN: 容城县消防救援大队, en: …}}
    people:                      # accounts and the unit (a centre or a department) they work for
      - {account: duty-130629, unit: d130629, role: duty_officer}
      - {account: grid-130629001-g01, unit: t130629001, role: field_worker, grids: ["130629001-G01"]}
    roster:                      # who is on duty at a centre, shift by shift, in the city's time
      - {unit: d130629, from: "08:00", to: "20:00", person: duty-130629}
      - {unit: d130629, from: "20:00", to: "08:00", person: night-130629}
    routing:                     # the most specific row wins; a region with none falls back to its parent's
      - {region: "130629", domain: fire, centre: d130629, department: fire-130629}
      - {domain: fire, centre: city, department: fire-city}
    time_limits:                 # a task's receipt (签收) and report (办结), one limit or one per severity
      receipt: {red: 15m, orange: 30m, yellow: 2wh, blue: 4wh}
      report: 2wd
    subscriptions:               # who hears of what off the screen, by which channel ([[notify.channels]])
      - {unit: d130629, channel: wecom-rongcheng, severity: [red, orange]}

A centre's parent is the centre of its region's parent region; a department's is its centre.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from alerts.rules import Limit, Section, Text
from alerts.working_time import Working, time_of_day
from alerts.yaml_file import YamlFileError, line_of, parse_yaml, read_yaml
from layers.regions import RegionIndex
from store.accounts import Accounts
from store.notifications import EVENTS
from store.records import DOMAINS, Severity

# The roles of the accounts (store.accounts.ROLES) a person of the organisation may have: theirs is set from here.
ROLES = ("supervisor", "duty_officer", "district_leader", "field_worker", "viewer")
DEPARTMENT_KINDS = ("fire", "police", "traffic_police", "water", "emergency", "urban_management", "health",
                    "government", "other")  # fmt: skip
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class OrgError(YamlFileError):
    """An organisation file that cannot be used, with its file and line."""


def _text(value) -> str:
    return str(value) if isinstance(value, int) else value  # a region code YAML read as a number


Code = Annotated[str, BeforeValidator(_text)]


class Centre(Section):
    id: Annotated[str, Field(pattern=_ID)]
    region: Code
    name: Text


class Department(Section):
    id: Annotated[str, Field(pattern=_ID)]
    centre: str
    kind: Literal[DEPARTMENT_KINDS]  # type: ignore[valid-type]
    domains: Annotated[list[str], Field(min_length=1)]
    regions: list[Code] = Field(default_factory=list)  # none: its centre's region
    name: Text


class Person(Section):
    account: Annotated[str, Field(min_length=1, max_length=64)]
    unit: str
    role: Literal[ROLES]  # type: ignore[valid-type]
    grids: list[Code] = Field(default_factory=list)  # a grid worker's grids (网格), inside their centre's region


Clock = Annotated[time, BeforeValidator(time_of_day)]


class Shift(Section):
    unit: str
    from_: Clock = Field(alias="from")
    to: Clock
    person: str
    days: Annotated[list[Literal[1, 2, 3, 4, 5, 6, 7]], Field(min_length=1)] = [1, 2, 3, 4, 5, 6, 7]  # ISO weekdays

    def covers(self, moment: datetime) -> bool:
        """Whether the shift holds at `moment` (local time); one past midnight belongs to the day it began."""
        clock = moment.time()
        if self.from_ < self.to:
            return moment.isoweekday() in self.days and self.from_ <= clock < self.to
        began = moment if clock >= self.from_ else moment - timedelta(days=1)
        return began.isoweekday() in self.days and (clock >= self.from_ or clock < self.to)


class Route(Section):
    region: Code | None = None  # none: the whole city, the fallback of last resort
    domain: str | None = None  # none: every domain
    severity: Annotated[list[Severity], Field(min_length=1)] | None = None  # none: every severity
    centre: str
    department: str | None = None


class Subscription(Section):
    """Who is told of what, by which channel ([[notify.channels]]): a unit's (its group robot, its mailbox) or a
    person's. It takes the notifications that concern its unit (an incident it owns or was given, a task raised to
    it), or that lie in `regions` where it names them, of the `events`, `severity` and `domains` it names (none:
    all). Within `quiet` hours (local time) only red is sent at once; the rest waits for their end."""

    unit: str | None = None
    person: str | None = None
    channel: str
    to: str = ""  # the e-mail address, for an e-mail channel
    events: Annotated[list[Literal[EVENTS]], Field(min_length=1)] = list(EVENTS)  # type: ignore[valid-type]
    severity: Annotated[list[Severity], Field(min_length=1)] | None = None
    domains: Annotated[list[str], Field(min_length=1)] | None = None
    regions: list[Code] | None = None
    quiet: Annotated[tuple[Clock, Clock], Field()] | None = None

    @model_validator(mode="after")
    def _quiet_ends(self) -> Subscription:
        if self.quiet is not None and self.quiet[0] == self.quiet[1]:
            raise ValueError("quiet hours end at another time than they begin")
        return self


StageLimit = Limit | dict[Severity, Limit]


class ChainLimits(Section):
    """How long a task's receiver has to sign for it (签收) and then to report it done (办结); none: no limit. One
    that runs out raises the task to the centre above the receiver, and again after as long to the next one up."""

    receipt: StageLimit | None = None
    report: StageLimit | None = None

    def of(self, stage: str, severity: str) -> timedelta | Working | None:
        limit = getattr(self, stage)
        return limit.get(severity) if isinstance(limit, dict) else limit


class OrgFile(Section):
    centres: Annotated[list[Centre], Field(min_length=1)]
    departments: list[Department] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)
    roster: list[Shift] = Field(default_factory=list)
    routing: list[Route] = Field(default_factory=list)
    time_limits: ChainLimits = Field(default_factory=ChainLimits)
    subscriptions: list[Subscription] = Field(default_factory=list)


@dataclass(frozen=True)
class Unit:
    """A centre or a department: where it stands in the chain and what it covers."""

    id: str
    kind: str  # "centre", or the department's kind
    name: Text
    parent: str | None
    regions: tuple[str, ...]
    domains: tuple[str, ...]  # a centre: every domain


@dataclass(frozen=True)
class Routed:
    centre: str
    department: str | None


class Organisation:
    """The checked organisation, and the questions asked of it."""

    def __init__(self, parsed: OrgFile, units: dict[str, Unit], regions: RegionIndex):
        self.file = parsed
        self.units = units
        self.regions = regions
        self._people = {p.account: p for p in parsed.people}

    @classmethod
    def load(cls, path: str | Path, regions: RegionIndex) -> Organisation:
        return cls._checked(*read_yaml(path, OrgFile, OrgError, "organisation file"), str(path), regions)

    @classmethod
    def parse(cls, text: str, name: str, regions: RegionIndex) -> Organisation:
        return cls._checked(*parse_yaml(text, name, OrgFile, OrgError, "organisation file"), name, regions)

    @classmethod
    def _checked(cls, parsed: OrgFile, node, name: str, regions: RegionIndex) -> Organisation:
        problems: list[tuple[tuple, str]] = []
        units = _units(parsed, regions, problems)
        _check_references(parsed, units, regions, problems)
        if problems:
            raise OrgError("\n".join(f"{name}:{line_of(node, loc)}: {reason}" for loc, reason in problems))
        return cls(parsed, units, regions)

    def take(self, newer: Organisation) -> None:
        """Become `newer` (the file loaded again while running), in one step for whoever holds this one."""
        self.__dict__ = newer.__dict__

    def chain(self, unit_id: str) -> list[Unit]:
        """The unit and those above it, up to the city's centre."""
        chain, unit = [], self.units.get(unit_id)
        while unit is not None and unit not in chain:
            chain.append(unit)
            unit = self.units.get(unit.parent) if unit.parent else None
        return chain

    def route(self, places: dict[str, str | None], domain: str, severity: str) -> Routed | None:
        """Where an incident at `places` (its region id at each stored level, None where unknown) goes: the
        routing row of its smallest region that has one, then of each region above it (a grid's community, its
        town, its district, the city), the more specific of a region's rows (a domain, severities named) first;
        None when no row takes it."""
        smallest = next((places[level] for level in ("grid", "town", "district") if places.get(level)), None)
        city = {r.id for r in self.regions.level("city")}
        chain = [r.id for r in reversed(self.regions.ancestors(smallest)) if r.id not in city] if smallest else []
        for region_id in [*chain, None]:
            rows = [r for r in self.file.routing if city_wide(r, city) == (region_id is None)
                    and (region_id is None or r.region == region_id)
                    and (r.domain is None or r.domain == domain)
                    and (r.severity is None or severity in r.severity)]  # fmt: skip
            if rows:
                row = max(rows, key=lambda r: (r.domain is not None, r.severity is not None))
                return Routed(row.centre, row.department)
        return None

    def on_duty(self, unit_id: str, moment: datetime) -> list[str]:
        """Who is on duty at the unit at `moment` (local time): the accounts of its shifts that hold then."""
        return [s.person for s in self.file.roster if s.unit == unit_id and s.covers(moment)]

    def person(self, account: str) -> Person | None:
        return self._people.get(account)

    def whole_unit(self, role: str, unit_id: str | None) -> bool:
        """Whether someone of this role works for their whole unit (its tasks, its directives): all but a centre's
        field workers, who work on what is given to them by name (a department's crews are the department)."""
        unit = self.units.get(unit_id or "")
        return unit is not None and (role != "field_worker" or unit.kind != "centre")

    def below(self, unit_id: str) -> list[Unit]:
        """The units a unit gives work to: the centres one level down and its own departments."""
        return [u for u in self.units.values() if u.parent == unit_id]

    def workers(self, unit_id: str) -> list[Person]:
        """The field workers of a unit (its grid workers, a department's crews)."""
        return [p for p in self.file.people if p.unit == unit_id and p.role == "field_worker"]

    def scope(self, account: str) -> tuple[str | None, tuple[str, ...]]:
        """An account's unit and the regions it sees: a centre's people their centre's region (the city's, all of
        it: no regions), a grid worker their grids; a department's people none, as they see what is given to
        their unit; an account the file does not list: no unit, and the regions its account says."""
        person = self._people.get(account)
        if person is None:
            return None, ()
        unit = self.units[person.unit]
        if person.grids:
            return unit.id, tuple(person.grids)
        if unit.kind != "centre":
            return unit.id, ()
        region = self.regions.get(unit.regions[0])
        return unit.id, () if region is not None and region.level == "city" else unit.regions


def city_wide(route: Route, city: set[str]) -> bool:
    """Whether a routing row is the whole city's: no region, or the city's own."""
    return route.region is None or route.region in city


def _units(parsed: OrgFile, regions: RegionIndex, problems: list) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    by_region: dict[str, str] = {}
    for n, centre in enumerate(parsed.centres):
        region = regions.get(centre.region)
        if region is None:
            problems.append((("centres", n, "region"), f"centre {centre.id}: no region {centre.region}"))
            continue
        if centre.region in by_region:
            problems.append((("centres", n, "region"), f"centre {centre.id}: region {centre.region} already has "
                             f"the centre {by_region[centre.region]}"))  # fmt: skip
            continue
        by_region[centre.region] = centre.id
    for n, centre in enumerate(parsed.centres):
        region = regions.get(centre.region)
        if region is None:
            continue
        above = [r.id for r in regions.ancestors(region.id)[:-1] if r.id in by_region]
        parent = by_region[above[-1]] if above else None
        if parent is None and region.level != "city":
            problems.append((("centres", n), f"centre {centre.id}: no centre above it (give the city's region "
                             f"{regions.level('city')[0].id if regions.level('city') else ''} a centre)"))  # fmt: skip
        _add(units, Unit(centre.id, "centre", centre.name, parent, (region.id,), DOMAINS), ("centres", n), problems)
    for n, dept in enumerate(parsed.departments):
        centre = units.get(dept.centre)
        if centre is None or centre.kind != "centre":
            problems.append((("departments", n, "centre"), f"department {dept.id}: no centre {dept.centre}"))
            continue
        unknown = [d for d in dept.domains if d not in DOMAINS]
        if unknown:
            problems.append((("departments", n, "domains"), f"department {dept.id}: no domain {unknown[0]} "
                             f"(domains: {', '.join(DOMAINS)})"))  # fmt: skip
        strays = [r for r in dept.regions if regions.get(r) is None]
        if strays:
            problems.append((("departments", n, "regions"), f"department {dept.id}: no region {strays[0]}"))
        unit = Unit(dept.id, dept.kind, dept.name, centre.id, tuple(dept.regions) or centre.regions,
                    tuple(dept.domains))  # fmt: skip
        _add(units, unit, ("departments", n), problems)
    return units


def _add(units: dict[str, Unit], unit: Unit, loc: tuple, problems: list) -> None:
    if unit.id in units:
        problems.append(((*loc, "id"), f"the id {unit.id} is also another unit's"))
    else:
        units[unit.id] = unit


def _check_references(parsed: OrgFile, units: dict[str, Unit], regions: RegionIndex, problems: list) -> None:
    accounts: dict[str, int] = {}
    for n, person in enumerate(parsed.people):
        if person.unit not in units:
            problems.append((("people", n, "unit"), f"{person.account}: no unit {person.unit}"))
        if person.account in accounts:
            problems.append((("people", n, "account"), f"{person.account} is already person {accounts[person.account]}"
                             " (one unit per account)"))  # fmt: skip
        accounts.setdefault(person.account, n)
        unit = units.get(person.unit)
        levels = {regions.get(r).level if regions.get(r) else None for r in unit.regions} if unit else set()
        if person.role == "district_leader" and unit is not None and (unit.kind != "centre" or levels != {"district"}):
            problems.append((("people", n, "role"), f"{person.account}: a district_leader works for a district's "
                             "centre"))  # fmt: skip
        for grid_id in person.grids:
            grid = regions.get(grid_id)
            if grid is None or grid.level != "grid":
                problems.append((("people", n, "grids"), f"{person.account}: no grid {grid_id}"))
            elif unit is not None and not any(r.id in unit.regions for r in regions.ancestors(grid_id)):
                problems.append((("people", n, "grids"), f"{person.account}: the grid {grid_id} is outside "
                                 f"{unit.id}'s region"))  # fmt: skip
    for n, shift in enumerate(parsed.roster):
        if shift.unit not in units:
            problems.append((("roster", n, "unit"), f"no unit {shift.unit}"))
        if shift.person not in accounts:
            problems.append((("roster", n, "person"), f"{shift.person} is none of the people"))
        elif parsed.people[accounts[shift.person]].unit != shift.unit:
            problems.append((("roster", n, "person"), f"{shift.person} works for "
                             f"{parsed.people[accounts[shift.person]].unit}, not {shift.unit}"))  # fmt: skip
        if shift.from_ == shift.to:
            problems.append((("roster", n, "to"), "a shift ends at another time than it begins"))
    for n, route in enumerate(parsed.routing):
        if route.region is not None and regions.get(route.region) is None:
            problems.append((("routing", n, "region"), f"no region {route.region}"))
        if route.domain is not None and route.domain not in DOMAINS:
            problems.append((("routing", n, "domain"), f"no domain {route.domain} (domains: {', '.join(DOMAINS)})"))
        centre = units.get(route.centre)
        if centre is None or centre.kind != "centre":
            problems.append((("routing", n, "centre"), f"no centre {route.centre}"))
        if route.department is not None:
            dept = units.get(route.department)
            if dept is None or dept.kind == "centre":
                problems.append((("routing", n, "department"), f"no department {route.department}"))
            elif route.domain is not None and route.domain not in dept.domains:
                problems.append((("routing", n, "department"), f"department {dept.id} does not work on "
                                 f"{route.domain} (its domains: {', '.join(dept.domains)})"))  # fmt: skip
    for n, sub in enumerate(parsed.subscriptions):
        if (sub.unit is None) == (sub.person is None):
            problems.append((("subscriptions", n), "a subscription is a unit's or a person's: give one of them"))
        elif sub.unit is not None and sub.unit not in units:
            problems.append((("subscriptions", n, "unit"), f"no unit {sub.unit}"))
        elif sub.person is not None and sub.person not in accounts:
            problems.append((("subscriptions", n, "person"), f"{sub.person} is none of the people"))
        strays = [r for r in sub.regions or () if regions.get(r) is None]
        if strays:
            problems.append((("subscriptions", n, "regions"), f"no region {strays[0]}"))
        unknown = [d for d in sub.domains or () if d not in DOMAINS]
        if unknown:
            problems.append((("subscriptions", n, "domains"), f"no domain {unknown[0]}"))
    city = {r.id for r in regions.level("city")}
    for n, route in enumerate(parsed.routing):
        if route.domain is None and route.department is not None:
            problems.append((("routing", n, "department"), "a row for every domain names no department: one "
                             "department does not work on every domain"))  # fmt: skip
    if parsed.routing:
        # Every domain needs a city-wide row for every severity: the last fallback of every incident.
        missing = [d for d in DOMAINS if not any(city_wide(r, city) and r.domain in (None, d) and r.severity is None
                                                 for r in parsed.routing)]  # fmt: skip
        if missing:
            problems.append((("routing",), f"no city-wide row for {', '.join(missing)} at every severity: an "
                             "incident there would go nowhere (add one with no region and no severity)"))  # fmt: skip


def apply_to_accounts(org: Organisation, accounts: Accounts, demo_password: str | None = None) -> list[str]:
    """Give each person's account the role, unit and scope the organisation says (their centre's region, their
    grids, or by task for a department's people and field workers); with `demo_password` (a format of `name`),
    create the accounts that do not exist yet. An account the file no longer lists loses its unit. What was done
    or skipped, for the log."""
    said: list[str] = []
    new = [p.account for p in org.file.people if accounts.get(p.account) is None]
    if demo_password is None:
        if new:
            said.append(f"{len(new)} people of the organisation have no account yet (create them with `cityops "
                        f"users add`): {', '.join(new[:10])}{' …' if len(new) > 10 else ''}")  # fmt: skip
    else:
        # As viewers until set_unit gives each its role with its scope (a leader needs regions to be one). The
        # password hashes are costly by design: made side by side, as many at once as the machine has cores.
        def create(account: str) -> None:
            accounts.add(account, "viewer", password=demo_password.format(name=account), must_change=False)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(create, new))
    for person in org.file.people:
        if accounts.get(person.account) is None:
            continue
        unit, regions = org.scope(person.account)
        by_task = person.role == "field_worker" or org.units[person.unit].kind != "centre"
        accounts.set_unit(person.account, person.role, regions, unit, by_task)
    for user in accounts.users():
        if user.unit is not None and org.person(user.name) is None:
            # Its scope was its unit's: without one it would see the whole city. Disabled until an administrator
            # gives it a role and districts again (`cityops users set-role|set-districts|enable`).
            accounts.set_unit(user.name, "viewer", (), None, True)
            accounts.set_disabled(user.name, True)
            said.append(
                f"{user.name} is no longer in the organisation: disabled until an administrator gives it a scope"
            )
    return said
