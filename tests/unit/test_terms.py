"""One term per concept in the Chinese catalog (issue 19): an operator reads 确认 for acknowledging an alert and for
nothing else, 签收 for signing for a task or a directive, 注销 for the cancel action of the lifecycle, and 确定 / 关闭
for a dialog's buttons. Each concept's English words and its one Chinese term are checked over the whole catalog,
both ways: every text that says the concept in English says its term in Chinese, and no other text uses the term."""

from __future__ import annotations

import re

import pytest

from dashboard.i18n import catalog

# concept: (English words that say it, its Chinese term)
TERMS = {
    "acknowledge an alert or incident": (r"\backnowledg", "确认"),
    "sign for a task, a directive, a shift": (
        r"\bsign(s|ed)? (for|it over)|\bsigned\b(?! in)|^take over$|waits to be taken over|takes it over",
        "签收",
    ),
    # a warning cancelled by its issuer's message is 解除, not the duty desk's cancel
    "the lifecycle's cancel": (r"^cancel(led)?$|\bcancel(led)? (it|the alert|the incident)\b", "注销"),
}


@pytest.mark.parametrize("concept", TERMS)
def test_each_concept_has_one_chinese_term(concept):
    english, term = TERMS[concept]
    zh = catalog("zh_CN")
    saying = {k for k in zh if re.search(english, k, re.IGNORECASE)}
    missing = sorted(k for k in saying if term not in zh[k])
    assert not missing, f"{concept}: these do not say {term}: {[(k, zh[k]) for k in missing]}"
    elsewhere = sorted(k for k, v in zh.items() if term in v and k not in saying)
    assert not elsewhere, f"{term} is used for something else than {concept}: {[(k, zh[k]) for k in elsewhere]}"


def test_a_dialogs_buttons_are_not_the_actions_words():
    zh = catalog("zh_CN")
    assert zh["Confirm"] == "确定" and zh["Close"] == "关闭" and zh["Cancel"] == "注销"
