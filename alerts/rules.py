"""Rule files: declarative YAML, validated at load; an error names the file, the line and the reason.

A rule watches subjects (entities matching `select`, or feeds) and opens one alert per (rule, subject) when its
`when` condition has held for `for`; the alert clears when `clear` (by default: not `when`) has held for
`clear_for`. Conditions:
    threshold: {metric: water_level, above: attr.warning_level}     a number, or an entity attribute ± offset
    rate:      {metric: water_level, rise_per_hour: 0.5, window: 1h}
    absent:    10m                                                   nothing reported for that long
    count:     {event_type: hotspot, min: 3, within_km: 2, window: 1h}
    warning:   {event: [暴雨, Rainstorm], min_severity: yellow}        an official warning (CAP), `subject: warning`
    all: [...] / any: [...]                                          AND / OR of the above
`zone` limits a rule to a region id or a polygon; `step_up` raises the severity of an open alert when a higher
threshold is crossed or it stays unhandled too long. `sop` names a checklist in the file's `sops` section, which
the duty desk shows with the alert.

Alerts are the evidence; people handle incidents. `groups` says which rules' alerts open an incident (`rules`),
which only join an open one of the same region (`joins`), how large that region is (`by`), how long it stays open
to newcomers (`window`) and whether it closes itself once all is clear (`auto_close`); a rule in no group opens
incidents of its own. `inhibit` records a target rule's alerts inside the incident of a source alert instead of
raising them, e.g. cameras "offline" while their whole feed is silent. See cityops/demo/rules.yaml.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator
from datetime import timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from alerts.working_time import Working, working
from alerts.yaml_file import YamlFileError, line_of, parse_yaml, read_yaml
from store.records import DOMAINS, Severity, severity_rank

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_REF = re.compile(r"^\s*attr\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:([+-])\s*(\d+(?:\.\d+)?))?\s*$")


class RuleError(YamlFileError):
    """A rule file that cannot be used, described for the person who wrote it."""


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration: write e.g. 90s, 5m, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def parse_duration(text: str) -> timedelta:
    """'90s', '5m', '2h', '1d' → timedelta; ValueError saying how to write one."""
    return _duration(text)


class Ref(BaseModel):
    """A threshold: a number, or an entity attribute with an optional offset (`attr.warning_level - 0.2`)."""

    value: float = 0.0
    attr: str | None = None

    def resolve(self, attributes: dict[str, Any]) -> float | None:
        if self.attr is None:
            return self.value
        base = attributes.get(self.attr)
        if isinstance(base, bool) or not isinstance(base, int | float):
            return None  # the entity lacks the attribute: the rule does not apply to it
        return float(base) + self.value


def _ref(value: Any) -> Any:
    if isinstance(value, Ref | dict):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Ref(value=float(value))
    match = _REF.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is neither a number nor an attribute such as 'attr.warning_level - 0.2'")
    offset = float(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
    return Ref(attr=match.group(1), value=offset)


Threshold = Annotated[Ref, BeforeValidator(_ref)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ThresholdCondition(Section):
    metric: str
    above: Threshold | None = None
    below: Threshold | None = None

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdCondition:
        if (self.above is None) == (self.below is None):
            raise ValueError("a threshold needs exactly one of 'above' or 'below'")
        return self


class RateCondition(Section):
    metric: str
    rise_per_hour: float | None = Field(default=None, gt=0)
    fall_per_hour: float | None = Field(default=None, gt=0)
    window: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _one_side(self) -> RateCondition:
        if (self.rise_per_hour is None) == (self.fall_per_hour is None):
            raise ValueError("a rate needs exactly one of 'rise_per_hour' or 'fall_per_hour'")
        return self


class CountCondition(Section):
    event_type: str | None = None
    domain: str | None = None
    min: int = Field(ge=1)
    within_km: float = Field(gt=0)
    window: Duration


class WarningCondition(Section):
    """An official warning (CAP) in force: which ones open an alert (Update and Cancel follow the one they name)."""

    event: str | list[str] | None = None  # words of the warning's event, in any of its languages ("暴雨", "Rain")
    min_severity: Severity = "blue"  # warnings at least this severe; one that states none counts as the rule's
    status: list[str] = Field(default_factory=lambda: ["Actual"])  # CAP status: exercises and tests open nothing


_LEAVES = ("threshold", "rate", "absent", "count", "warning")


class Condition(Section):
    threshold: ThresholdCondition | None = None
    rate: RateCondition | None = None
    absent: Duration | None = None
    count: CountCondition | None = None
    warning: WarningCondition | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [k for k in (*_LEAVES, "all", "any") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a condition is exactly one of threshold, rate, absent, count, warning, all, any"
                + (f" (found {', '.join(given)})" if given else "")
            )
        return self

    def kinds(self) -> set[str]:
        if self.all is not None or self.any is not None:
            return set().union(*(c.kinds() for c in (self.all or self.any)))
        return {next(k for k in _LEAVES if getattr(self, k) is not None)}

    def metrics(self) -> list[str]:
        """The metrics this condition reads, in order of appearance (what an alert's chart shows)."""
        if self.all is not None or self.any is not None:
            return list(dict.fromkeys(m for c in (self.all or self.any) for m in c.metrics()))
        leaf = self.threshold or self.rate
        return [leaf.metric] if leaf is not None else []


class Selector(Section):
    domain: str | None = None
    kind: str | list[str] | None = None
    feed: str | None = None
    district: str | None = None


class Zone(Section):
    region: str | None = None
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3)  # (lon, lat) pairs, WGS84

    @model_validator(mode="after")
    def _one(self) -> Zone:
        if (self.region is None) == (self.polygon is None):
            raise ValueError("a zone is either a 'region' id or a 'polygon' of [lon, lat] pairs")
        return self


class Near(Section):
    """Only subjects within `within_m` metres of a place of a reference layer ([[layers]]: schools, shelters …)."""

    layer: str
    within_m: Annotated[float, Field(gt=0, le=50_000)]


class StepUp(Section):
    severity: Severity
    above: Threshold | None = None
    below: Threshold | None = None
    unhandled_for: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> StepUp:
        if sum(x is not None for x in (self.above, self.below, self.unhandled_for)) != 1:
            raise ValueError("a step_up has exactly one of 'above', 'below' or 'unhandled_for'")
        return self


class Text(Section):
    zh_CN: str
    en: str


def _limit(value: Any) -> timedelta | Working:
    limit = working(value)
    return limit if isinstance(limit, Working) else _duration(value)


# A time limit on the clock (90s, 5m, 2h, 1d) or in working time (4wh working hours, 2wd working days).
Limit = Annotated[timedelta | Working, BeforeValidator(_limit)]


class RuleTimeLimits(Section):
    """A rule's own time limits, overriding the city's table for its alerts."""

    acknowledge: Limit | None = None
    dispatch: Limit | None = None
    resolve: Limit | None = None


class Rule(Section):
    id: Annotated[str, Field(pattern=_ID)]
    domain: str
    subject: Literal["entity", "feed", "warning"] = "entity"
    select: Selector = Selector()
    zone: Zone | None = None
    near: Near | None = None
    when: Condition
    for_: Duration = Field(default=timedelta(0), alias="for")
    clear: Condition | None = None
    clear_for: Duration = timedelta(0)
    severity: Severity
    step_up: list[StepUp] = Field(default_factory=list)
    title: Text
    message: Text
    unit: str
    sop: str | None = None
    time_limits: RuleTimeLimits | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}")
        kinds = self.when.kinds()
        if "count" in kinds and kinds != {"count"}:
            raise ValueError("a count condition cannot be combined with others")
        if self.subject == "feed" and kinds != {"absent"}:
            raise ValueError("a feed rule can only watch for absence ('absent: 10m')")
        if (self.subject == "warning") != ("warning" in kinds):
            raise ValueError("official warnings are watched by a rule of 'subject: warning' with 'when: {warning: …}'")
        if self.subject == "warning" and (self.when.warning is None or self.clear is not None or self.step_up):
            raise ValueError("a warning rule follows its warning (Update, Cancel, expiry): no other condition, "
                             "'clear' or 'step_up'")  # fmt: skip
        if self.subject == "warning" and (self.zone or self.near or self.select.kind or self.select.district):
            raise ValueError("a warning rule selects by 'feed' and 'domain': a warning has its own area, no "
                             "'zone', 'near', 'kind' or 'district'")  # fmt: skip
        if self.subject == "feed" and self.near is not None:
            raise ValueError("a feed rule watches a feed, which is near nothing: no 'near'")
        for step in self.step_up:
            if severity_rank(step.severity) >= severity_rank(self.severity):
                raise ValueError(f"step_up to {step.severity} is not above the rule's severity {self.severity}")
        return self


class Sop(Section):
    """A standard operating procedure: the checklist a duty officer works through for the alerts of a rule."""

    title: Text
    steps: Annotated[list[Text], Field(min_length=1)]


Level = Literal["city", "district", "town", "grid"]  # the regions of the city, largest first
_TITLE_FIELDS = {"region", "count"}


class Group(Section):
    """A kind of incident: which rules' alerts open one, which join an open one, and the region it covers.

    `title` may use {region} (the region's name) and {count} (its members); None means the incident takes its
    first member's title, as the group made for a rule in no group's `rules` does.
    """

    id: Annotated[str, Field(pattern=_ID)]
    title: Text | None = None
    rules: Annotated[list[str], Field(min_length=1)]
    joins: list[str] = Field(default_factory=list)
    by: Level = "district"
    window: Duration = timedelta(hours=1)  # an alert joins while the newest member is younger than this
    auto_close: Duration | None = None  # closes itself once every member has cleared this long; None: never

    @field_validator("title")
    @classmethod
    def _placeholders(cls, title: Text | None) -> Text | None:
        for text in (title.zh_CN, title.en) if title else ():
            unknown = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None} - _TITLE_FIELDS
            if unknown:
                fields = ", ".join("{" + f + "}" for f in sorted(unknown))
                raise ValueError(f"{text!r} uses {fields}: a group's title knows only {{region}} and {{count}}")
        return title

    @field_validator("window")
    @classmethod
    def _positive(cls, window: timedelta) -> timedelta:
        if window <= timedelta(0):
            raise ValueError("a window of 0 lets no alert join: write e.g. 30m or 2h")
        return window


class InhibitSource(Section):
    rule: str
    subject: str | None = None  # only alerts of this subject (an entity or feed id) inhibit; None: any


class Inhibit(Section):
    """While an open, active alert of `source` exists, alerts of `targets` are recorded in its incident, not raised."""

    id: Annotated[str, Field(pattern=_ID)]
    source: InhibitSource
    targets: Annotated[list[str], Field(min_length=1)]
    same: Level | None = None  # only targets in the source alert's region at this level; None: anywhere


class RuleFile(Section):
    rules: list[Rule]
    sops: dict[str, Sop] = Field(default_factory=dict)
    groups: list[Group] = Field(default_factory=list)
    inhibit: list[Inhibit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        return self

    def opening_group(self, rule_id: str) -> Group:
        """The group whose incidents an alert of `rule_id` opens: the one naming it in `rules`, or else a group of
        its own (id = the rule's id, by district, window 1h, the first member's title)."""
        for group in self.groups:
            if rule_id in group.rules:
                return group
        return Group(id=rule_id, rules=[rule_id])

    def joining_groups(self, rule_id: str) -> list[Group]:
        """The groups whose open incidents an alert of `rule_id` joins (their `joins` name it), in file order."""
        return [group for group in self.groups if rule_id in group.joins]

    def inhibits(self, rule_id: str) -> list[Inhibit]:
        """The inhibitions that may hold back an alert of `rule_id` (their `targets` name it), in file order."""
        return [inhibit for inhibit in self.inhibit if rule_id in inhibit.targets]

    def inhibit_sources(self) -> set[str]:
        """The ids of the rules whose alerts hold back others."""
        return {inhibit.source.rule for inhibit in self.inhibit}


def load_rules(path: str | Path) -> list[Rule]:
    return load_rule_file(path).rules


def load_rule_file(path: str | Path) -> RuleFile:
    return _checked(*read_yaml(path, RuleFile, RuleError, "rule file", describe=_describe), str(path))


def parse_rules(text: str, name: str = "<rules>") -> list[Rule]:
    return parse_rule_file(text, name).rules


def parse_rule_file(text: str, name: str = "<rules>") -> RuleFile:
    return _checked(*parse_yaml(text, name, RuleFile, RuleError, "rule file", describe=_describe), name)


def _checked(parsed: RuleFile, node, name: str) -> RuleFile:
    """The rule file, once the checks across its sections find nothing (RuleError with their lines)."""
    problems = [*_sop_problems(parsed), *_group_problems(parsed), *_inhibit_problems(parsed)]
    if problems:
        raise RuleError("\n".join(f"{name}:{line_of(node, loc)}: {reason}" for loc, reason in problems))
    return parsed


# Checks across sections, once each section is valid on its own: where in the file, and what is wrong.
_Problem = tuple[tuple, str]


def _sop_problems(book: RuleFile) -> Iterator[_Problem]:
    for i, rule in enumerate(book.rules):
        if rule.sop is not None and rule.sop not in book.sops:
            known = ", ".join(sorted(book.sops)) or "none"
            reason = (
                f"rule {rule.id!r} names the SOP {rule.sop!r}, which the file's 'sops' section does not define "
                f"(defined: {known})"
            )
            yield ("rules", i, "sop"), reason


def _group_problems(book: RuleFile) -> Iterator[_Problem]:
    rules = {rule.id: rule for rule in book.rules}
    yield from _duplicates("group", [group.id for group in book.groups], "groups")
    openers: dict[str, str] = {}  # rule id → the group whose incidents its alerts open
    for i, group in enumerate(book.groups):
        for j, rule_id in enumerate(group.rules):
            if rule_id not in rules:
                yield ("groups", i, "rules", j), _unknown_rule(f"group {group.id!r}", rule_id, rules)
            elif rule_id in openers:
                yield ("groups", i, "rules", j), _opens_twice(rule_id, openers[rule_id], group.id)
            else:
                openers[rule_id] = group.id
        for j, rule_id in enumerate(group.joins):
            if rule_id not in rules:
                yield ("groups", i, "joins", j), _unknown_rule(f"group {group.id!r}", rule_id, rules)
            elif rule_id in group.rules:
                reason = (
                    f"group {group.id!r} lists the rule {rule_id!r} in both 'rules' and 'joins': its alerts "
                    "either open this group's incidents or only join them"
                )
                yield ("groups", i, "joins", j), reason
        yield from _fire_closing_itself(i, group, rules)
    for i, group in enumerate(book.groups):
        misspelt = not set(group.rules) <= rules.keys()  # then the misspelling is the one mistake to report
        if group.id in rules and group.id not in openers and not misspelt:
            # That rule's alerts open incidents of a group of its own, which bears its id: the two would merge.
            reason = (
                f"group id {group.id!r} is also the id of a rule in no group's 'rules', whose alerts open a group "
                "of their own by that name: rename the group, or list the rule in its 'rules'"
            )
            yield ("groups", i, "id"), reason


def _opens_twice(rule_id: str, first: str, second: str) -> str:
    if first == second:
        return f"group {second!r} lists the rule {rule_id!r} twice"
    return (
        f"the rule {rule_id!r} already opens incidents of group {first!r}, and a rule opens incidents of one group "
        f"only: list it under 'joins' of {second!r} to let its alerts join those incidents"
    )


def _fire_closing_itself(i: int, group: Group, rules: dict[str, Rule]) -> Iterator[_Problem]:
    fire = [r for r in (*group.rules, *group.joins) if r in rules and rules[r].domain == "fire"]
    if group.auto_close is not None and fire:
        reason = (
            f"group {group.id!r} holds the fire rule {fire[0]!r}: a fire alarm's incident is closed by a person, "
            "never by itself; remove 'auto_close'"
        )
        yield ("groups", i, "auto_close"), reason


def _inhibit_problems(book: RuleFile) -> Iterator[_Problem]:
    rules = {rule.id for rule in book.rules}
    yield from _duplicates("inhibition", [inhibit.id for inhibit in book.inhibit], "inhibit")
    for i, inhibit in enumerate(book.inhibit):
        owner = f"inhibition {inhibit.id!r}"
        if inhibit.source.rule not in rules:
            yield ("inhibit", i, "source", "rule"), _unknown_rule(owner, inhibit.source.rule, rules)
        for j, rule_id in enumerate(inhibit.targets):
            if rule_id not in rules:
                yield ("inhibit", i, "targets", j), _unknown_rule(owner, rule_id, rules)
            elif rule_id == inhibit.source.rule:
                reason = f"{owner} names its source rule {rule_id!r} among its targets: a rule cannot hold back itself"
                yield ("inhibit", i, "targets", j), reason


def _duplicates(what: str, ids: list[str], section: str) -> Iterator[_Problem]:
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        if item_id in seen:
            yield (section, i, "id"), f"{what} id {item_id!r} appears twice"
        seen.add(item_id)


def _unknown_rule(owner: str, rule_id: str, defined: Iterable[str]) -> str:
    known = sorted(defined)
    close = get_close_matches(rule_id, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(known[:12]) + (f", … ({len(known)} in all)" if len(known) > 12 else "")
    return f"{owner} names the rule {rule_id!r}, which the file does not define ({hint}defined: {listed or 'none'})"


def _describe(data: Any, loc: tuple) -> str:
    """`rules[2] (river-level).when.threshold.above`: the path, with the rule's (group's …) id where known."""
    parts = []
    for i, key in enumerate(loc):
        if isinstance(key, int):
            parts[-1] += f"[{key}]"
            if i == 1 and loc[0] in ("rules", "groups", "inhibit"):
                items = data.get(loc[0])
                if isinstance(items, list) and key < len(items) and isinstance(items[key], dict):
                    parts[-1] += f" ({items[key].get('id', '?')})"
        else:
            parts.append(str(key))
    return ".".join(p for p in parts if not p.startswith("function-")) or "(top level)"
