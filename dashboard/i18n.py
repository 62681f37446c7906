"""Translations from the Babel catalogs in dashboard/translations/<lang>/LC_MESSAGES/messages.po.

Source strings are English; every user-visible string goes through `t(...)`. A missing translation falls back to
the English text, and tests/unit/test_translations.py fails when any catalog lacks a string the code uses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po
from flask import g, has_request_context, request

LANGUAGES: tuple[str, ...] = ("zh_CN", "en")
# The language a browser last chose with ?lang=, kept so every view opens in it (a wall display has no account).
LANGUAGE_COOKIE = "cityops_lang"
CATALOG_DIR = Path(__file__).parent / "translations"


@cache
def catalog(lang: str) -> dict[str, str]:
    path = CATALOG_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        po = read_po(f, locale=lang)
    return {m.id: m.string for m in po if m.id and m.string}


def N_(text: str) -> str:
    """Marks a string for the catalog where it is translated later, e.g. labels kept in a dict."""
    return text


def normalize_language(lang: str | None, default: str = "zh_CN") -> str:
    if not lang:
        return default
    lang = lang.replace("-", "_")
    if lang in LANGUAGES:
        return lang
    return "zh_CN" if lang.lower().startswith("zh") else "en" if lang.lower().startswith("en") else default


def page_language(lang: str | None, default: str) -> str:
    """The language of a page: `?lang=` if given, else the user's own (kept from their last choice), else the one
    this browser chose before, else the city's."""
    if not lang and has_request_context():
        principal = g.get("principal")
        lang = (principal.language if principal else None) or request.cookies.get(LANGUAGE_COOKIE)
    return normalize_language(lang, default)


def translator(lang: str) -> Callable[..., str]:
    strings = catalog(normalize_language(lang))

    def t(text: str, **values) -> str:
        out = strings.get(text, text)
        return out.format(**values) if values else out

    return t
