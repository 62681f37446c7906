"""Both catalogs hold every string the code marks, with a non-empty translation, and nothing else."""

from babel.messages.extract import extract_from_dir

from dashboard.i18n import LANGUAGES, catalog, translator
from tests.harness import ROOT


def used_strings() -> set[str]:
    """What the screens (dashboard/) and the messages sent off them (notify/) mark for translation."""
    found = [
        message
        for part in ("dashboard", "notify")
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / part), method_map=[("**.py", "python")], keywords={"t": None, "N_": None}
        )
    ]
    return {message for message in found if isinstance(message, str)}


def test_code_marks_strings():
    assert len(used_strings()) >= 20


def test_every_used_string_is_translated_in_every_language():
    used = used_strings()
    for lang in LANGUAGES:
        missing = sorted(used - set(catalog(lang)))
        assert not missing, f"{lang} catalog lacks: {missing}"


def test_catalogs_have_the_same_keys_and_no_stale_ones():
    used = used_strings()
    for lang in LANGUAGES:
        stale = sorted(set(catalog(lang)) - used)
        assert not stale, f"{lang} catalog has strings no code uses: {stale}"
    assert set(catalog("zh_CN")) == set(catalog("en"))


def test_chinese_differs_from_english_where_it_should():
    t = translator("zh_CN")
    assert t("Traffic") == "交通"
    assert t("{city} City Operations Center", city="保定市") == "保定市城市运行管理中心"
    assert translator("en")("{n} devices", n=3) == "3 devices"
