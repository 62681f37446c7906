"""Incidents in the rule file: `groups` and `inhibit` parse, answer the engine's lookups, and mistakes name the line."""

import tomllib
from datetime import timedelta

import pytest

from alerts.rules import RuleError, load_rule_file, parse_rule_file
from cityops import DEMO_DIR


def _rule(rule_id: str, domain: str = "flood") -> str:
    if domain == "system":
        when = "subject: feed\n    when: {absent: 2m}"
    else:
        when = "when: {threshold: {metric: level, above: 1}}"
    return (
        f"  - id: {rule_id}\n    domain: {domain}\n    {when}\n    severity: blue\n"
        f"    title: {{zh_CN: 标题, en: Title}}\n    message: {{zh_CN: 内容, en: Text}}\n    unit: duty\n"
    )


RULES = "rules:\n" + "".join(
    _rule(*r)
    for r in [
        ("rainstorm",),
        ("waterlogging",),
        ("river",),
        ("fire-alarm", "fire"),
        ("camera-offline", "security"),
        ("feed-silent", "system"),
    ]
)

SECTIONS = """\
groups:
  - id: rainstorm
    title: {zh_CN: "{region}暴雨", en: "Rain in {region} ({count})"}
    rules: [rainstorm]
    joins: [waterlogging, river]
    window: 2h
    auto_close: 30m
  - id: rivers
    rules: [river]
    by: town
  - id: fire
    rules: [fire-alarm]
inhibit:
  - id: platform-down
    source: {rule: feed-silent, subject: cams}
    targets: [camera-offline]
    same: district
"""

GOOD = RULES + SECTIONS


def test_groups_and_inhibitions_parse_and_answer_the_lookups():
    book = parse_rule_file(GOOD, "rules.yaml")
    rain = book.opening_group("rainstorm")
    assert (rain.id, rain.by, rain.window) == ("rainstorm", "district", timedelta(hours=2))
    assert rain.auto_close == timedelta(minutes=30)
    assert rain.title.en == "Rain in {region} ({count})"
    assert book.opening_group("river").by == "town"
    assert book.joining_groups("river") == [rain]
    assert book.joining_groups("rainstorm") == []
    [inhibit] = book.inhibits("camera-offline")
    assert (inhibit.source.rule, inhibit.source.subject, inhibit.same) == ("feed-silent", "cams", "district")
    assert book.inhibits("feed-silent") == []
    assert book.inhibit_sources() == {"feed-silent"}


def test_a_rule_in_no_groups_rules_opens_incidents_of_its_own():
    book = parse_rule_file(GOOD, "rules.yaml")
    own = book.opening_group("waterlogging")  # it joins rainstorms, but opens its own incident when none is open
    assert (own.id, own.rules, own.joins, own.title) == ("waterlogging", ["waterlogging"], [], None)
    assert (own.by, own.window, own.auto_close) == ("district", timedelta(hours=1), None)


def test_a_file_without_the_sections_gives_every_rule_its_own_group():
    book = parse_rule_file(RULES, "rules.yaml")
    assert book.groups == [] and book.inhibit == []
    for rule in book.rules:
        group = book.opening_group(rule.id)
        assert (group.id, group.rules, group.by, group.window) == (rule.id, [rule.id], "district", timedelta(hours=1))
        assert group.title is None and group.auto_close is None
        assert book.joining_groups(rule.id) == [] and book.inhibits(rule.id) == []
    assert book.inhibit_sources() == set()


def test_the_demo_groups_and_inhibitions_say_what_the_file_says():
    book = load_rule_file(DEMO_DIR / "rules.yaml")
    rain = book.opening_group("rainstorm")
    assert (rain.by, rain.window) == ("city", timedelta(hours=2))
    assert rain.joins == ["road-waterlogging", "severe-congestion", "river-over-warning"]
    assert book.opening_group("river-over-warning").id == "river"
    assert book.joining_groups("river-over-warning") == [rain]
    assert book.joining_groups("road-waterlogging") == [rain]
    assert book.opening_group("road-waterlogging").id == "road-waterlogging"  # no rainstorm open: its own
    assert book.opening_group("feed-silent").by == book.opening_group("camera-offline").by == "city"
    assert book.opening_group("camera-offline").window == timedelta(hours=1)
    for rule_id in ("fire-alarm", "hotspot-cluster", "crowding"):
        assert book.opening_group(rule_id).by == "district"
    fire = {r.id for r in book.rules if r.domain == "fire"}
    for group in book.groups:
        assert group.title is not None
        assert group.auto_close is None or not fire & {*group.rules, *group.joins}


def test_the_demo_holds_back_camera_alerts_while_the_camera_feed_is_silent():
    book = load_rule_file(DEMO_DIR / "rules.yaml")
    [inhibit] = book.inhibits("camera-offline")
    assert inhibit.source.rule == "feed-silent"
    assert book.inhibit_sources() == {"feed-silent"}
    feeds = tomllib.loads((DEMO_DIR / "cityops.toml").read_text(encoding="utf-8"))["feeds"]
    cameras = [f["id"] for f in feeds if any(t.startswith("baoding/security/") for t in f.get("topics", []))]
    assert cameras == [inhibit.source.subject]


# Each mistake is made on a line marked "# here", where the report must point.
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rules: [rainstorm]", "rules: [rainstrom]  # here",
         "group 'rainstorm' names the rule 'rainstrom', which the file does not define (did you mean 'rainstorm'? "
         "defined: camera-offline, feed-silent, fire-alarm, rainstorm, river, waterlogging)"),
        ("joins: [waterlogging, river]", "joins: [waterlogging, rivr]  # here",
         "group 'rainstorm' names the rule 'rivr', which the file does not define"),
        ("source: {rule: feed-silent,", "source: {rule: feed-silence,  # here\n     ",
         "inhibition 'platform-down' names the rule 'feed-silence', which the file does not define"),
        ("targets: [camera-offline]", "targets: [camera-ofline]  # here",
         "inhibition 'platform-down' names the rule 'camera-ofline', which the file does not define"),
        ("  - id: fire\n", "  - id: rivers  # here\n", "group id 'rivers' appears twice"),
        ("    same: district\n",
         "    same: district\n  - id: platform-down  # here\n    source: {rule: feed-silent}\n    targets: [river]\n",
         "inhibition id 'platform-down' appears twice"),
        ("rules: [fire-alarm]", "rules: [fire-alarm, river]  # here",
         "the rule 'river' already opens incidents of group 'rivers', and a rule opens incidents of one group only"),
        ("rules: [river]", "rules: [river, river]  # here", "group 'rivers' lists the rule 'river' twice"),
        ("joins: [waterlogging, river]", "joins: [waterlogging, river, rainstorm]  # here",
         "group 'rainstorm' lists the rule 'rainstorm' in both 'rules' and 'joins'"),
        ("targets: [camera-offline]", "targets: [camera-offline, feed-silent]  # here",
         "inhibition 'platform-down' names its source rule 'feed-silent' among its targets"),
        ("rules: [fire-alarm]", "rules: [fire-alarm]\n    auto_close: 10m  # here",
         "group 'fire' holds the fire rule 'fire-alarm': a fire alarm's incident is closed by a person, never by "
         "itself; remove 'auto_close'"),
        ("joins: [waterlogging, river]\n    window: 2h\n    auto_close: 30m",
         "joins: [waterlogging, river, fire-alarm]\n    window: 2h\n    auto_close: 30m  # here",
         "group 'rainstorm' holds the fire rule 'fire-alarm'"),
        ("  - id: rivers\n", "  - id: waterlogging  # here\n",
         "group id 'waterlogging' is also the id of a rule in no group's 'rules'"),
        ("by: town", "by: county  # here",
         "groups[1] (rivers).by: Input should be 'city', 'district', 'town' or 'grid'"),
        ("same: district", "same: street  # here",
         "inhibit[0] (platform-down).same: Input should be 'city', 'district', 'town' or 'grid'"),
        ("window: 2h", "window: 2 hours  # here", "groups[0] (rainstorm).window: '2 hours' is not a duration"),
        ("window: 2h", "window: 0m  # here", "a window of 0 lets no alert join"),
        ("rules: [river]", "rules: []  # here", "groups[1] (rivers).rules: List should have at least 1 item"),
        ("targets: [camera-offline]", "targets: []  # here", "inhibit[0] (platform-down).targets: List should have"),
        ('en: "Rain in {region} ({count})"}', 'en: "Rain in {district}"}  # here',
         "'Rain in {district}' uses {district}: a group's title knows only {region} and {count}"),
        ("  - id: fire\n", "  - id: Fire!  # here\n", "groups[2] (Fire!).id: String should match pattern"),
        ("by: town", "by: town\n    colour: red  # here", "groups[1] (rivers).colour: unknown key"),
    ],
)  # fmt: skip
def test_mistakes_name_the_line_and_the_reason(old, new, message):
    assert old in GOOD
    broken = GOOD.replace(old, new, 1)
    with pytest.raises(RuleError) as err:
        parse_rule_file(broken, "rules.yaml")
    text = str(err.value)
    line = next(n for n, ln in enumerate(broken.splitlines(), 1) if "# here" in ln)
    found = [ln.strip() for ln in text.splitlines() if message in ln]
    assert found and found[0].startswith(f"rules.yaml:{line}:"), text


def test_every_problem_across_sections_is_reported_at_once():
    broken = GOOD.replace("rules: [river]", "rules: [rivr]").replace("targets: [camera-offline]", "targets: [cam]")
    with pytest.raises(RuleError) as err:
        parse_rule_file(broken, "rules.yaml")
    assert "'rivr'" in str(err.value) and "'cam'" in str(err.value)
    assert len(str(err.value).splitlines()) == 2


def test_a_misspelt_rule_is_the_one_mistake_reported():
    with pytest.raises(RuleError) as err:
        parse_rule_file(GOOD.replace("rules: [rainstorm]", "rules: [rainstrom]"), "rules.yaml")
    assert len(str(err.value).splitlines()) == 1
