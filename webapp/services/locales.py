"""Countries (ISO 3166-1) and languages, with names in the viewer's language."""

from __future__ import annotations

from functools import lru_cache

import pycountry
from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal

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
    return capitalise(_locale(code).get_display_name(code) or code, code)


# Languages whose dotted i is capitalised İ (Python's str.upper() writes I).
_DOTTED_I = ("tr", "az")


def capitalise(text: str, locale: str) -> str:
    """`text` with its first letter capitalised as `locale` writes it ("izin" is
    "İzin" in Turkish); the rest unchanged."""
    first = text[:1]
    if first == "i" and locale.split("_")[0] in _DOTTED_I:
        return "İ" + text[1:]
    return first.upper() + text[1:]


@lru_cache(maxsize=512)
def language_name(code: str, locale: str = "en") -> str:
    """A language as a reader of `locale` names it ("Persian" in English), else the code."""
    name = _locale(locale).languages.get(code)
    return capitalise(name, locale) if name else code


# Digits of the numbering systems our locales default to, where that is not ASCII.
# Babel applies a locale's numbering system to numbers' symbols but writes their digits,
# and dates, in ASCII; CLDR's default for Persian is `arabext` (۰۱۲…).
_DIGITS: dict[str, str] = {
    "arab": "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "arabext": "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
}


@lru_cache(maxsize=64)
def _digit_table(numbering_system: str) -> dict[int, str]:
    digits = _DIGITS.get(numbering_system)
    return str.maketrans("0123456789", digits) if digits else {}


def native_digits(text: str, loc: Locale) -> str:
    """`text` with its ASCII digits in `loc`'s default numbering system."""
    return text.translate(_digit_table(loc.default_numbering_system))


def format_count(number: int, locale: str = "en", grouping: bool = True) -> str:
    """A whole number as a reader of `locale` writes it: "1,234", "1 234", "۱٬۲۳۴";
    without `grouping` for a year ("2000", "۲۰۰۰")."""
    loc = _locale(locale)
    written = format_decimal(number, locale=loc, group_separator=grouping, numbering_system="default")
    return native_digits(written, loc)
