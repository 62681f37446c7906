"""Rule files: the demo file is valid; mistakes are reported with file, line, rule and reason."""

import pytest

from alerts.rules import RuleError, load_rule_file, load_rules, parse_rule_file, parse_rules
from cityops import DEMO_DIR

GOOD = """\
rules:
  - id: river-level
    domain: flood
    select: {kind: river_gauge}
    when:
      threshold: {metric: water_level, above: attr.warning_level}
    for: 2m
    clear:
      threshold: {metric: water_level, below: attr.warning_level - 0.2}
    severity: yellow
    step_up:
      - {above: attr.guaranteed_level, severity: red}
    title: {zh_CN: "{name}超警戒水位", en: "{name} above warning level"}
    message: {zh_CN: "水位 {value} 米", en: "level {value} m"}
    unit: water_authority
"""


def test_a_good_rule_parses_with_durations_and_attribute_thresholds():
    [rule] = parse_rules(GOOD)
    assert rule.for_.total_seconds() == 120
    assert rule.when.threshold.above.attr == "warning_level"
    assert rule.clear.threshold.below.value == pytest.approx(-0.2)


def test_the_demo_rules_are_valid():
    rules = load_rules(DEMO_DIR / "rules.yaml")
    assert {r.domain for r in rules} >= {"traffic", "flood", "fire", "security"}


def test_the_demo_rules_name_only_sops_the_file_defines():
    book = load_rule_file(DEMO_DIR / "rules.yaml")
    named = {r.sop for r in book.rules if r.sop}
    assert named and named <= set(book.sops)
    assert all(step.zh_CN and step.en for sop in book.sops.values() for step in sop.steps)


def test_a_sop_the_file_does_not_define_is_an_error_at_the_rule_line():
    text = (
        GOOD + "    sop: flood-river\nsops:\n  flood-rainstorm:\n    title: {zh_CN: 降雨, en: Rain}\n"
        "    steps: [{zh_CN: 核实, en: Verify}]\n"
    )
    with pytest.raises(
        RuleError,
        match=r"rules.yaml:16: rule 'river-level' names the SOP 'flood-river'.*"
        r"defined: flood-rainstorm",
    ):
        parse_rule_file(text, "rules.yaml")
    ok = parse_rule_file(text.replace("sop: flood-river", "sop: flood-rainstorm"), "rules.yaml")
    assert ok.sops["flood-rainstorm"].steps[0].en == "Verify"


def test_a_sop_without_steps_is_refused():
    with pytest.raises(RuleError, match=r"sops.x.steps: List should have at least 1 item"):
        parse_rule_file(GOOD + "sops:\n  x: {title: {zh_CN: a, en: b}, steps: []}\n", "rules.yaml")


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        ("for: 2m", 7, "river-level).for: '2 minutes' is not a duration"),
        ("severity: yellow", 10, "river-level).severity: Input should be 'red', 'orange', 'yellow' or 'blue'"),
        ("above: attr.warning_level}", 6, "'attr.warning level' is neither a number nor an attribute"),
        ("unit: water_authority", 16, "river-level).colour: unknown key"),
        # A check across the rule names the rule's own line.
        ("- {above: attr.guaranteed_level, severity: red}", 2, "step_up to blue is not above"),
    ],
)
def test_mistakes_name_file_line_rule_and_reason(change, line, message):
    broken = {
        "for: 2m": GOOD.replace("for: 2m", "for: 2 minutes"),
        "severity: yellow": GOOD.replace("severity: yellow", "severity: purple"),
        "above: attr.warning_level}": GOOD.replace("above: attr.warning_level}", "above: attr.warning level}"),
        "unit: water_authority": GOOD.replace("unit: water_authority", "unit: water_authority\n    colour: red"),
        "- {above: attr.guaranteed_level, severity: red}": GOOD.replace("severity: red}", "severity: blue}"),
    }[change]
    with pytest.raises(RuleError) as err:
        parse_rules(broken, "rules.yaml")
    text = str(err.value)
    assert message in text
    found = [ln for ln in text.splitlines() if message in ln]
    assert found and found[0].strip().startswith(f"rules.yaml:{line}:"), text


def test_invalid_yaml_and_duplicate_ids():
    with pytest.raises(RuleError, match=r"rules.yaml:3: not valid YAML"):
        parse_rules("rules:\n  - id: x\n    when: {a: [}\n", "rules.yaml")
    with pytest.raises(RuleError, match="rule id 'river-level' appears twice"):
        parse_rules(GOOD + GOOD.removeprefix("rules:\n"), "rules.yaml")


def test_a_condition_is_exactly_one_kind():
    bad = GOOD.replace("      threshold: {metric: water_level, above: attr.warning_level}",
                       "      absent: 5m\n      threshold: {metric: water_level, above: 3}")  # fmt: skip
    with pytest.raises(RuleError, match="exactly one of threshold, rate, absent, count, warning, all, any"):
        parse_rules(bad, "rules.yaml")
