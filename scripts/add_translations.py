"""Add msgid → (zh_CN, en) pairs to both catalogs: .venv/bin/python scripts/add_translations.py PAIRS.tsv

Each line of the TSV file: English source text, a tab, the Chinese translation. Existing entries are kept, unless
`--replace` is given (a term changed: its Chinese is written anew); entries no code marks any more are dropped
(tests/unit/test_translations.py fails on them).
"""

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

CATALOGS = Path(__file__).resolve().parents[1] / "dashboard" / "translations"


def used_strings() -> set[str]:
    """What the screens (dashboard/) and the messages sent off them (notify/) mark for translation."""
    root = CATALOGS.parents[1]
    found = [message for part in ("dashboard", "notify")
             for _f, _l, message, _c, _x in extract_from_dir(str(root / part), method_map=[("**.py", "python")],
                                                              keywords={"t": None, "N_": None})]  # fmt: skip
    return {message for message in found if isinstance(message, str)}


def main(pairs_file: str, replace: bool = False) -> None:
    pairs = [line.rstrip("\n").split("\t") for line in Path(pairs_file).read_text(encoding="utf-8").splitlines()]
    used = used_strings()
    for lang in ("zh_CN", "en"):
        path = CATALOGS / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        for english, chinese in pairs:
            if english not in catalog:
                catalog.add(english, chinese if lang == "zh_CN" else english)
            elif replace and lang == "zh_CN":
                catalog[english].string = chinese
        for message in [m.id for m in catalog if m.id and m.id not in used]:
            del catalog[message]
        with path.open("wb") as f:
            write_po(f, catalog, width=120, omit_header=False)
        print(f"{path}: {len(catalog)} messages")


if __name__ == "__main__":
    main(sys.argv[1], replace="--replace" in sys.argv[2:])
