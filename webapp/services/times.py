"""Time-zone aware formatting and parsing. Everything is stored in UTC; people see
their own zone and the program's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_datetime, format_timedelta, get_timezone_name


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


@lru_cache(maxsize=8192)
def format_in_zone(value: datetime, zone: str, locale: str = "en", fmt: str = "medium") -> str:
    """E.g. "Wed 28 Sep 2022, 14:00 GMT+5" (medium) or "Wednesday 28 September 2022, 14:00
    Pakistan Standard Time" (long) in `zone`, in `locale`'s conventions."""
    tz = ZoneInfo(zone)
    pattern = {
        "medium": "EEE d MMM y, HH:mm O",
        "long": "EEEE d MMMM y, HH:mm zzzz",
        "time": "HH:mm O",
    }.get(fmt, fmt)
    try:
        return format_datetime(value, pattern, tzinfo=tz, locale=locale)
    except (ValueError, LookupError):
        return format_datetime(value, pattern, tzinfo=tz, locale="en")


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
