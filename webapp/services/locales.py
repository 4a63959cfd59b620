"""Countries (ISO 3166-1) and languages, with names in the viewer's language."""

from __future__ import annotations

from functools import lru_cache

import pycountry
from babel import Locale, UnknownLocaleError

# Languages participants can ask their emails in. English is the source language;
# others fall back to English until their catalogue is translated.
# The languages Rollcall speaks: pages, forms and every email. Adding one is a catalogue
# (translations/<code>/LC_MESSAGES/messages.po, `make messages`) and one entry here.
LANGUAGES = ("en", "zh", "ru", "tr", "fa")
# Written right to left.
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


@lru_cache(maxsize=32)
def _locale(code: str) -> Locale:
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@lru_cache(maxsize=32)
def country_choices(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(alpha-2, name) for every ISO 3166-1 country, named and sorted for `locale`."""
    territories = _locale(locale).territories
    choices = []
    for country in pycountry.countries:
        name = territories.get(country.alpha_2) or getattr(country, "common_name", None) or country.name
        choices.append((country.alpha_2, name))
    return tuple(sorted(choices, key=lambda c: c[1].casefold()))


@lru_cache(maxsize=32)
def _country_names(locale: str) -> dict[str, str]:
    return dict(country_choices(locale))


def country_name(code: str, locale: str = "en") -> str:
    return _country_names(locale).get(code, code)


@lru_cache(maxsize=32)
def language_choices(locale: str = "en") -> tuple[tuple[str, str], ...]:
    """(code, "Name in its own language") for the languages we offer."""
    return tuple((code, own_name(code)) for code in LANGUAGES)


def text_direction(locale: str) -> str:
    """ "rtl" for a language written right to left, else "ltr"."""
    return "rtl" if locale.split("_")[0] in RTL_LANGUAGES else "ltr"


@lru_cache(maxsize=32)
def own_name(code: str) -> str:
    """A language in its own name and script (English, 中文, Русский, Türkçe, فارسی)."""
    name = _locale(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


@lru_cache(maxsize=512)
def language_name(code: str, locale: str = "en") -> str:
    """A language as a reader of `locale` names it ("Persian" in English), else the code."""
    name = _locale(locale).languages.get(code)
    return name[:1].upper() + name[1:] if name else code
