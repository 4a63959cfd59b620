"""Time-zone aware formatting and parsing. Everything is stored in UTC; people see
their own zone and the program's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_datetime,
    format_timedelta,
    get_timezone_gmt,
    get_timezone_name,
    match_skeleton,
)
from babel.numbers import get_minus_sign_symbol, get_plus_sign_symbol


@lru_cache(maxsize=1)
def all_timezones() -> tuple[str, ...]:
    """Every IANA zone name tzdata knows, sorted, without the legacy aliases."""
    names = {n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/"))}
    names.add("UTC")
    return tuple(sorted(names))


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """`all_timezones` as a set, for checking what a form sent."""
    return frozenset(all_timezones())


def is_valid_timezone(name: str) -> bool:
    if not name or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def parse_iso_datetime(value: str) -> datetime:
    """Parse ISO 8601 with an explicit offset and return it in UTC.

    Raises ValueError for malformed values and for values without an offset (a naive
    time is ambiguous: whose 14:00?).
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("no UTC offset")
    return parsed.astimezone(UTC)


# The named formats: the CLDR pieces each is built from in the reader's locale (see
# `_pattern`), and how it names the zone (appended by `format_in_zone` itself; see
# `gmt_offset_label` for why Babel's `O` is not used). Times are 24-hour everywhere.
_MEDIUM_DATE_SKELETON = "yMMMEd"  # "Mon, Sep 28, 2026", "2026年9月28日周一", "пн, 28 сент. 2026 г."
_TIME_SKELETON = "Hm"  # "14:00"; "H:mm" in Persian
_ZONE_PARTS: dict[str, str] = {"medium": "offset", "long": "name", "time": "offset"}

# Digits of the numbering systems our locales default to, where that is not ASCII.
# Babel applies a locale's numbering system to numbers' symbols but writes dates with
# ASCII digits; CLDR's default for Persian is `arabext` (۰۱۲…).
_DIGITS: dict[str, str] = {
    "arab": "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "arabext": "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
}


def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (ValueError, LookupError, UnknownLocaleError):
        return Locale.parse("en")


@lru_cache(maxsize=64)
def _digit_table(numbering_system: str) -> dict[int, str]:
    digits = _DIGITS.get(numbering_system)
    return str.maketrans("0123456789", digits) if digits else {}


def _native_digits(text: str, loc: Locale) -> str:
    """`text` with its ASCII digits in `loc`'s default numbering system."""
    return text.translate(_digit_table(loc.default_numbering_system))


def _skeleton(loc: Locale, skeleton: str) -> str:
    """CLDR's pattern in `loc` for a skeleton (its closest match), else English's."""
    for candidate in (loc, Locale.parse("en")):
        best = match_skeleton(skeleton, candidate.datetime_skeletons)
        if best:
            return candidate.datetime_skeletons[best].pattern
    return "y-MM-dd HH:mm"  # not reached: English has both skeletons we ask for


@lru_cache(maxsize=64)
def _pattern(locale: str, fmt: str) -> str:
    """The date-and-time pattern of a named format in `locale`, from CLDR: the time is
    the `Hm` skeleton; medium puts it after the `yMMMEd` date, long after the full
    date (weekday and month in words), each joined as the locale joins a date and a
    time ("{1}, {0}" in English, "{1} {0}" in Chinese, "{1}، ساعت {0}" in Persian)."""
    loc = _locale(locale)
    time = _skeleton(loc, _TIME_SKELETON)
    if fmt == "time":
        return time
    if fmt == "long":
        date, joiner = loc.date_formats["full"].pattern, loc.datetime_formats["long"]
    else:
        date, joiner = _skeleton(loc, _MEDIUM_DATE_SKELETON), loc.datetime_formats["medium"]
    # The joiner is itself a pattern ("{1} 'at' {0}"): its literals are quoted already.
    return joiner.replace("{1}", date).replace("{0}", time)


def gmt_offset_label(local: datetime, locale: str = "en") -> str:
    """The short localised GMT format of `local`'s offset: "GMT+5", "GMT+5:45",
    "GMT-3:30", "GMT" for zero ("+5:45 گرینویچ" in Persian).

    Babel 2.18 returns None for the one-letter `O` pattern and writes negative
    half-hour offsets wrongly ("-04:30" for St John's -3:30), so the offset is
    computed here and only the locale's GMT wording and signs come from CLDR.
    """
    loc = _locale(locale)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    body = ""
    if minutes:
        sign = (
            get_plus_sign_symbol(loc, numbering_system="latn")
            if minutes > 0
            else get_minus_sign_symbol(loc, numbering_system="latn")
        )
        hours, rest = divmod(abs(minutes), 60)
        body = f"{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return _native_digits((loc.zone_formats["gmt"] % body).strip(), loc)


def _zone_name(local: datetime, locale: str) -> str:
    """CLDR's long name ("Pakistan Standard Time"), or the GMT offset for zones CLDR
    does not name (Asia/Kathmandu), written by `gmt_offset_label`."""
    loc = _locale(locale)
    name = get_timezone_name(local, "long", locale=loc)
    if not name or name == get_timezone_gmt(local, "long", locale=loc):
        return gmt_offset_label(local, locale)
    return name


@lru_cache(maxsize=8192)
def format_in_zone(value: datetime, zone: str, locale: str = "en", fmt: str = "medium") -> str:
    """`value` in `zone`, written as `locale` writes dates (CLDR's order, words and
    digits), always with the zone named: "Mon, Sep 28, 2026, 14:00 GMT+5" (medium),
    "Monday, September 28, 2026, 14:00 Pakistan Standard Time" (long) or "14:00 GMT+5"
    (time); "2026年9月28日周一 14:00 GMT+5" in Chinese. Any other `fmt` is a Babel pattern
    used as given."""
    tz = ZoneInfo(zone)
    loc = _locale(locale)
    if fmt not in _ZONE_PARTS:
        return format_datetime(value, fmt, tzinfo=tz, locale=loc)
    local = value.astimezone(tz)
    label = _zone_name(local, locale) if _ZONE_PARTS[fmt] == "name" else gmt_offset_label(local, locale)
    written = _native_digits(format_datetime(value, _pattern(str(loc), fmt), tzinfo=tz, locale=loc), loc)
    return f"{written} {label}"


@lru_cache(maxsize=2048)
def zone_label(zone: str, locale: str = "en") -> str:
    """A person's name for a zone, e.g. "Pakistan Time (Asia/Karachi)"."""
    try:
        name = get_timezone_name(ZoneInfo(zone), locale=locale)
    except (ValueError, LookupError):
        name = zone
    return name if name == zone else f"{name} ({zone})"


def format_remaining(delta: timedelta, locale: str = "en") -> str:
    """A rounded duration such as "3 days" or "5 hours", in the locale's words and digits."""
    loc = _locale(locale)
    return _native_digits(format_timedelta(delta, threshold=1.0, locale=loc), loc)
