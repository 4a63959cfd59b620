"""Time-zone aware formatting and parsing. Everything is stored in UTC; people see
their own zone and the program's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import (
    format_date,
    format_datetime,
    format_interval,
    format_timedelta,
    get_timezone_gmt,
    get_timezone_name,
    match_skeleton,
)
from babel.lists import format_list
from babel.numbers import get_minus_sign_symbol, get_plus_sign_symbol

from webapp.services.locales import native_digits


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


def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (ValueError, LookupError, UnknownLocaleError):
        return Locale.parse("en")


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
    return native_digits((loc.zone_formats["gmt"] % body).strip(), loc)


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
    written = native_digits(format_datetime(value, _pattern(str(loc), fmt), tzinfo=tz, locale=loc), loc)
    return f"{written} {label}"


@lru_cache(maxsize=8192)
def format_span(start: datetime, end: datetime, zone: str, locale: str = "en", fmt: str = "long") -> str:
    """A session from `start` to `end` in `zone`, the zone named once, at the end, as
    `format_in_zone` names it: "Thursday, December 10, 2026, 12:30 – 14:30 Iran Standard
    Time". A session that ends on another day, or whose zone changes its offset on the
    way (a daylight-saving change), is written as two full times instead."""
    tz = ZoneInfo(zone)
    loc = _locale(locale)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if (
        fmt not in _ZONE_PARTS
        or local_start.date() != local_end.date()
        or (local_start.utcoffset() != local_end.utcoffset())
    ):
        return f"{format_in_zone(start, zone, locale, fmt)} – {format_in_zone(end, zone, locale, fmt)}"
    label = _zone_name(local_start, locale) if _ZONE_PARTS[fmt] == "name" else gmt_offset_label(local_start, locale)
    begins = format_datetime(start, _pattern(str(loc), fmt), tzinfo=tz, locale=loc)
    ends = format_datetime(end, _pattern(str(loc), "time"), tzinfo=tz, locale=loc)
    return native_digits(f"{begins} – {ends}", loc) + f" {label}"


@lru_cache(maxsize=2048)
def _generic_name(zone: str, locale: str) -> str | None:
    """CLDR's generic name of a zone or its metazone in `locale` ("Iran Time"), if any."""
    loc = _locale(locale)
    metazone = get_global("meta_zones").get(zone)
    return loc.time_zones.get(zone, {}).get("long", {}).get("generic") or (
        loc.meta_zones.get(metazone, {}).get("long", {}).get("generic") if metazone else None
    )


def zone_label(zone: str, locale: str = "en") -> str:
    """A person's name for a zone, e.g. "Pakistan Time (Asia/Karachi)", "Coordinated
    Universal Time (UTC)", "GMT+5:45 (Asia/Kathmandu)" where CLDR has no name for it.

    Where CLDR has no generic name, Babel falls back to the locale's region format, and
    its data keeps the wrong variant of that format for some locales (Russian reads
    "Непал, летнее время", Nepal summer time; UTC becomes an "Unknown Region"), so
    today's offset names those zones instead (not cached: it changes with the season).
    """
    try:
        tz = ZoneInfo(zone)
    except (ValueError, LookupError):
        return zone
    now = datetime.now(UTC).astimezone(tz)
    if zone in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        return f"{get_timezone_name(now, 'long', locale=_locale(locale))} (UTC)"
    return f"{_generic_name(zone, locale) or gmt_offset_label(now, locale)} ({zone})"


def format_remaining(delta: timedelta, locale: str = "en") -> str:
    """A rounded duration such as "3 days" or "5 hours", in the locale's words and digits."""
    loc = _locale(locale)
    return native_digits(format_timedelta(delta, threshold=1.0, locale=loc), loc)


# Large enough that a number of hours is never written as days, nor minutes as hours.
_NO_LARGER_UNIT = 10**9


def format_duration(minutes: int, locale: str = "en") -> str:
    """Minutes as hours and minutes in the locale's words and digits: "7 hours, 30
    minutes", "7小时30分钟", "۷ ساعت و ۳۰ دقیقه"; whole hours alone, "0 minutes" for none."""
    loc = _locale(locale)
    hours, rest = divmod(max(int(minutes), 0), 60)
    parts = []
    if hours:
        parts.append(
            format_timedelta(timedelta(hours=hours), threshold=_NO_LARGER_UNIT, granularity="hour", locale=loc)
        )
    if rest or not hours:
        parts.append(
            format_timedelta(timedelta(minutes=rest), threshold=_NO_LARGER_UNIT, granularity="minute", locale=loc)
        )
    return native_digits(format_list(parts, style="unit", locale=loc), loc)


def format_days(first: date, last: date, locale: str = "en") -> str:
    """A day ("September 28, 2030") or a span of days ("Sep 28 – Oct 2, 2030") in the
    locale's words and digits."""
    loc = _locale(locale)
    if first == last:
        text = format_date(first, "long", locale=loc)
    else:
        text = format_interval(first, last, "yMMMd", locale=loc)
    return native_digits(text, loc)
