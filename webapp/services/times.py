"""Time-zone aware formatting and parsing. Everything is stored in UTC; people see
their own zone and the program's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_timedelta, get_timezone_gmt, get_timezone_name
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


# Date and time part of each named format; the zone is appended by `format_in_zone`
# itself (see `gmt_offset_label` for why Babel's `O` is not used).
_FORMATS: dict[str, tuple[str, str]] = {
    "medium": ("EEE d MMM y, HH:mm", "offset"),
    "long": ("EEEE d MMMM y, HH:mm", "name"),
    "time": ("HH:mm", "offset"),
}


def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (ValueError, LookupError, UnknownLocaleError):
        return Locale.parse("en")


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
    return (loc.zone_formats["gmt"] % body).strip()


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
    """E.g. "Wed 28 Sep 2022, 14:00 GMT+5" (medium), "Wednesday 28 September 2022, 14:00
    Pakistan Standard Time" (long) or "14:00 GMT+5" (time) in `zone`, in `locale`'s
    conventions. Any other `fmt` is a Babel pattern used as given."""
    tz = ZoneInfo(zone)
    loc = _locale(locale)
    if fmt not in _FORMATS:
        return format_datetime(value, fmt, tzinfo=tz, locale=loc)
    pattern, zone_part = _FORMATS[fmt]
    local = value.astimezone(tz)
    label = _zone_name(local, locale) if zone_part == "name" else gmt_offset_label(local, locale)
    return f"{format_datetime(value, pattern, tzinfo=tz, locale=loc)} {label}"


@lru_cache(maxsize=2048)
def zone_label(zone: str, locale: str = "en") -> str:
    """A person's name for a zone, e.g. "Pakistan Time (Asia/Karachi)"."""
    try:
        name = get_timezone_name(ZoneInfo(zone), locale=locale)
    except (ValueError, LookupError):
        name = zone
    return name if name == zone else f"{name} ({zone})"


def format_remaining(delta: timedelta, locale: str = "en") -> str:
    """A rounded duration such as "3 days" or "5 hours"."""
    try:
        return format_timedelta(delta, threshold=1.0, locale=locale)
    except (ValueError, LookupError):
        return format_timedelta(delta, threshold=1.0, locale="en")
