"""The program file: what a program is, as JSON (docs/program-file.md). Validating one
(every problem at once, each naming its field), writing a program back as one, and
moving all of its times together."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import get_locale
from flask_babel import gettext as _

from webapp.models import DEFAULT_REMINDER_MINUTES, PROGRAM_STATUSES, Program
from webapp.models.programs import DEFAULT_ATTENDANCE_THRESHOLD_PERCENT, ZOOM_TYPES
from webapp.services.errors import ProgramImportError
from webapp.services.locales import LANGUAGES, format_count
from webapp.services.text import has_control_characters, multi_line, single_line, slugify
from webapp.services.times import is_valid_timezone, parse_iso_datetime

# Bounds that keep every value inside its column and every date arithmetic in range.
MAX_CAPACITY = 1_000_000
FIRST_YEAR, LAST_YEAR = 2000, 2999
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_OFFSET = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_KNOWN_FIELDS = {
    "slug",
    "title",
    "summary",
    "description",
    "organiser",
    "timezone",
    "registration_opens_at",
    "registration_deadline",
    "capacity",
    "waitlist",
    "approval_required",
    "attendance_threshold_percent",
    "certificates",
    "status",
    "reminders",
    "sessions",
    "questions",
    "language",
    "translations",
}
_SESSION_FIELDS = {
    "title",
    "starts_at",
    "ends_at",
    "join_url",
    "passcode",
    "zoom_meeting_id",
    "zoom_type",
    "zoom_create",
}


@dataclass
class SessionSpec:
    title: str
    starts_at: datetime
    ends_at: datetime
    join_url: str
    passcode: str
    zoom_meeting_id: str | None
    zoom_type: str = "webinar"
    # Rollcall is to create the session's webinar or meeting in Zoom (no ID yet).
    zoom_create: bool = False
    # The title in other languages: {"ru": {"title": ...}}.
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class ProgramSpec:
    """A validated program file."""

    slug: str
    title: str
    summary: str
    description: str
    organiser_name: str
    timezone: str
    registration_opens_at: datetime | None
    registration_deadline: datetime
    capacity: int | None
    waitlist_enabled: bool
    approval_required: bool
    status: str
    reminder_minutes: list[int]
    sessions: list[SessionSpec]
    questions: list[dict[str, Any]]
    # The language of the text above, and the program's text in others:
    # {"ru": {"title": ..., "summary": ..., "description": ...}} (session titles are on
    # each SessionSpec).
    language: str = "en"
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    # Percent of a session's length that counts as attending it (1-100).
    attendance_threshold_percent: int = DEFAULT_ATTENDANCE_THRESHOLD_PERCENT
    # Certificates of attendance, sent by an organiser after the last session.
    certificates: bool = False


def parse_reminder_offset(value: Any) -> int:
    """ "24h" → 1440, "30m" → 30, "2d" → 2880 (minutes before the session)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _OFFSET.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError(value)
    return int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)]


# A problem is "key: message". The key names the field in the file's own terms
# (`sessions[2].ends_at`) and is never translated: the editor puts the message next to
# that field. The message is in the reader's language: gettext speaks the request's
# (the organiser's console), and English where there is no request (the command line).


def _number(number: int, grouping: bool = True) -> str:
    """A number in a problem, as the reader writes it (Persian digits in Persian)."""
    return format_count(number, str(get_locale() or "en"), grouping=grouping)


def _unknown_field(key: str) -> str:
    return f"{key}: " + _("unknown field")


def _missing(key: str) -> str:
    return f"{key}: " + _("is required")


def _not_text(key: str) -> str:
    return f"{key}: " + _("must be text")


def _not_true_or_false(key: str) -> str:
    return f"{key}: " + _("must be true or false")


def _not_an_object(key: str) -> str:
    return f"{key}: " + _("must be an object")


def _too_long(key: str, max_length: int, length: int) -> str:
    return f"{key}: " + _(
        "must be at most %(max)s characters (it has %(count)s)", max=_number(max_length), count=_number(length)
    )


def _text_of_at_most(key: str, max_length: int) -> str:
    return f"{key}: " + _("must be text of at most %(max)s characters", max=_number(max_length))


def not_one_of(key: str, choices: tuple[str, ...]) -> str:
    """The value is none of `choices` (values as the file writes them, not translated)."""
    return f"{key}: " + _("must be one of %(choices)s", choices=", ".join(choices))


QUESTION_TYPES = ("short_text", "long_text", "single_choice", "multiple_choice", "checkbox", "country")
_CHOICE_TYPES = ("single_choice", "multiple_choice")
_KEY = re.compile(r"^[a-z0-9_]{1,40}$")


def _validate_questions(raw: Any, problems: list[str]) -> list[dict[str, Any]]:
    """Extra form questions: label, type, required, options (for choices); the key
    names the answer in exports and is derived from the label if not given."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append("questions: " + _("must be a list"))
        return []
    if len(raw) > 30:
        problems.append("questions: " + _("at most %(max)s questions", max=_number(30)))
    questions: list[dict[str, Any]] = []
    keys: set[str] = set()
    for index, item in enumerate(raw[:30], start=1):
        label_key = f"questions[{index}]"
        if not isinstance(item, dict):
            problems.append(_not_an_object(label_key))
            continue
        for key in sorted(set(item) - {"key", "label", "type", "required", "options"}):
            problems.append(_unknown_field(f"{label_key}.{key}"))
        label = single_line(item.get("label") if isinstance(item.get("label"), str) else "", 300)
        if not label:
            problems.append(_missing(f"{label_key}.label"))
        kind = item.get("type", "short_text")
        if kind not in QUESTION_TYPES:
            problems.append(not_one_of(f"{label_key}.type", QUESTION_TYPES))
        key = item.get("key") or slugify(label).replace("-", "_")[:40] or f"q{index}"
        if not isinstance(key, str) or not _KEY.match(key):
            problems.append(
                f"{label_key}.key: " + _("%(value)s may contain only lower-case letters, digits and _", value=repr(key))
            )
        elif key in keys or key in _ANSWER_RESERVED:
            problems.append(f"{label_key}.key: " + _("%(value)s is used twice", value=repr(key)))
        keys.add(str(key))
        options = item.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, str) and o.strip() for o in options):
            problems.append(f"{label_key}.options: " + _("must be a list of non-empty texts"))
            options = []
        options = [single_line(o, 200) for o in options]
        if kind in _CHOICE_TYPES and len(options) < 2:
            problems.append(f"{label_key}.options: " + _("a choice needs at least two options"))
        required = item.get("required", False)
        if not isinstance(required, bool):
            problems.append(_not_true_or_false(f"{label_key}.required"))
            required = False
        questions.append(
            {
                "key": key,
                "label": label,
                "type": kind,
                "required": required,
                "options": options if kind in _CHOICE_TYPES else [],
            }
        )
    return questions


# The translatable text of a program, each with the original's length limit; whether it
# keeps its line breaks (the description is Markdown, sanitised when shown, as the
# original is).
TRANSLATABLE = {"title": (200, True), "summary": (500, True), "description": (20000, False)}
SESSION_TITLE_MAX = 200


def _translated_text(value: Any, label: str, max_length: int, one_line: bool, problems: list[str]) -> str:
    """One translated text, cleaned as the original is; "" (no translation) when empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(_not_text(label))
        return ""
    cleaned = single_line(value) if one_line else multi_line(value)
    if len(cleaned) > max_length:
        problems.append(_too_long(label, max_length, len(cleaned)))
    return cleaned


def _validate_translations(
    raw: Any, language: str, session_count: int, problems: list[str]
) -> tuple[dict[str, dict[str, str]], list[dict[str, dict[str, str]]]]:
    """The `translations` map: the program's translated text by language, and each
    session's translated title by the session's position in start order. Empty texts
    mean "no translation" and are left out."""
    per_session: list[dict[str, dict[str, str]]] = [{} for _ in range(session_count)]
    if raw is None:
        return {}, per_session
    if not isinstance(raw, dict):
        problems.append("translations: " + _('must be an object such as {"ru": {"title": "..."}}'))
        return {}, per_session
    program: dict[str, dict[str, str]] = {}
    for code, entry in raw.items():
        label = f"translations.{single_line(str(code), 20)}"
        if code not in LANGUAGES:
            problems.append(
                f"{label}: "
                + _("not a language Rollcall offers (one of %(languages)s)", languages=", ".join(LANGUAGES))
            )
            continue
        if code == language:
            problems.append(f"{label}: " + _("is the program's own language (see language); its text is the original"))
            continue
        if not isinstance(entry, dict):
            problems.append(f"{label}: " + _("must be an object with any of title, summary, description and sessions"))
            continue
        for key in sorted(set(entry) - {*TRANSLATABLE, "sessions"}, key=str):
            problems.append(_unknown_field(f"{label}.{single_line(str(key), 40)}"))
        texts: dict[str, str] = {}
        for key, (max_length, one_line) in TRANSLATABLE.items():
            value = _translated_text(entry.get(key), f"{label}.{key}", max_length, one_line, problems)
            if value:
                texts[key] = value
        if texts:
            program[code] = texts
        sessions = entry.get("sessions")
        if sessions is None:
            continue
        if not isinstance(sessions, list):
            problems.append(f"{label}.sessions: " + _('must be a list such as [{"title": "..."}], in start order'))
            continue
        if len(sessions) > session_count:
            problems.append(
                f"{label}.sessions: "
                + _(
                    "has %(entries)s entries but the program has %(sessions)s session(s)",
                    entries=_number(len(sessions)),
                    sessions=_number(session_count),
                )
            )
            continue
        for index, item in enumerate(sessions, start=1):
            item_label = f"{label}.sessions[{index}]"
            if item is None:
                continue
            if not isinstance(item, dict):
                problems.append(f"{item_label}: " + _('must be an object such as {"title": "..."}'))
                continue
            for key in sorted(set(item) - {"title"}, key=str):
                problems.append(_unknown_field(f"{item_label}.{single_line(str(key), 40)}"))
            title = _translated_text(item.get("title"), f"{item_label}.title", SESSION_TITLE_MAX, True, problems)
            if title:
                per_session[index - 1][code] = {"title": title}
    return program, per_session


# Answer keys that would collide with the form's own fields.
_ANSWER_RESERVED = {"full_name", "email", "country", "organisation", "job_title", "language", "timezone", "consent"}


def validate_program_data(data: Any) -> ProgramSpec:
    """Check a program file and return it typed. Raises ProgramImportError listing every
    problem found (not just the first), each naming the field it is about."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ProgramImportError([_("the file must contain one JSON object describing a program")])

    for key in sorted(set(data) - _KNOWN_FIELDS):
        problems.append(_unknown_field(key))

    def text(key: str, max_length: int, required: bool = False, one_line: bool = True) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                problems.append(_missing(key))
            return ""
        if not isinstance(value, str):
            problems.append(_not_text(key))
            return ""
        cleaned = single_line(value) if one_line else multi_line(value)
        if len(cleaned) > max_length:
            problems.append(_too_long(key, max_length, len(cleaned)))
        return cleaned

    def when(key: str, where: dict[str, Any], label: str, required: bool = True) -> datetime | None:
        value = where.get(key)
        if value is None or value == "":
            if required:
                problems.append(_missing(label))
            return None
        if not isinstance(value, str):
            problems.append(f"{label}: " + _("must be an ISO 8601 date and time, e.g. 2026-09-28T14:00:00+05:00"))
            return None
        try:
            parsed = parse_iso_datetime(value)
        except OverflowError:  # e.g. 9999-12-31T23:59-05:00 is past year 9999 in UTC
            parsed = None
        except ValueError as exc:
            if str(exc) == "no UTC offset":
                problems.append(
                    f"{label}: "
                    + _(
                        "%(value)s has no UTC offset; write e.g. %(example)s",
                        value=repr(value),
                        example=f"{value}+05:00",
                    )
                )
            else:
                problems.append(f"{label}: " + _("%(value)s is not an ISO 8601 date and time", value=repr(value)))
            return None
        if parsed is None or not FIRST_YEAR <= parsed.year <= LAST_YEAR:
            # Far dates overflow when moved (a copy, a time zone, a reminder offset).
            problems.append(
                f"{label}: "
                + _(
                    "must be in the years %(first)s to %(last)s",
                    first=_number(FIRST_YEAR, grouping=False),
                    last=_number(LAST_YEAR, grouping=False),
                )
            )
            return None
        return parsed

    def flag(key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            problems.append(_not_true_or_false(key))
            return default
        return value

    slug = text("slug", 120, required=True)
    if slug and not _SLUG.match(slug):
        problems.append(
            "slug: " + _("%(value)s may contain only lower-case letters, digits and single hyphens", value=repr(slug))
        )
    title = text("title", 200, required=True)
    summary = text("summary", 500)
    description = text("description", 20000, one_line=False)
    organiser = text("organiser", 200)

    timezone = data.get("timezone")
    if not timezone:
        problems.append("timezone: " + _("is required (an IANA name such as Asia/Karachi)"))
        timezone = "UTC"
    elif not isinstance(timezone, str) or not is_valid_timezone(timezone):
        problems.append(
            "timezone: "
            + _("%(value)s is not a known IANA time zone (e.g. Asia/Karachi, Europe/Paris)", value=repr(timezone))
        )
        timezone = "UTC"

    opens_at = when("registration_opens_at", data, "registration_opens_at", required=False)
    deadline = when("registration_deadline", data, "registration_deadline")

    capacity = data.get("capacity")
    if capacity is not None and (
        not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= MAX_CAPACITY
    ):
        problems.append(
            "capacity: "
            + _(
                "must be a whole number of at least 1 and at most %(max)s, or null for unlimited seats",
                max=_number(MAX_CAPACITY),
            )
        )
        capacity = None

    waitlist = flag("waitlist", False)
    approval = flag("approval_required", False)
    certificates = flag("certificates", False)

    threshold = data.get("attendance_threshold_percent", DEFAULT_ATTENDANCE_THRESHOLD_PERCENT)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 1 <= threshold <= 100:
        problems.append("attendance_threshold_percent: " + _("must be a whole number from 1 to 100"))
        threshold = DEFAULT_ATTENDANCE_THRESHOLD_PERCENT

    status = data.get("status", "draft")
    if status not in PROGRAM_STATUSES:
        problems.append(not_one_of("status", PROGRAM_STATUSES))
        status = "draft"

    reminders_raw = data.get("reminders", None)
    reminder_minutes = list(DEFAULT_REMINDER_MINUTES)
    if reminders_raw is not None:
        if not isinstance(reminders_raw, list):
            problems.append("reminders: " + _('must be a list such as ["24h", "1h"]'))
        else:
            parsed: list[int] = []
            for item in reminders_raw:
                try:
                    parsed.append(parse_reminder_offset(item))
                except ValueError:
                    problems.append(
                        "reminders: " + _('%(value)s is not an offset such as "24h", "90m" or "2d"', value=repr(item))
                    )
            reminder_minutes = sorted(set(parsed), reverse=True)

    sessions: list[SessionSpec] = []
    raw_sessions = data.get("sessions")
    if not isinstance(raw_sessions, list) or not raw_sessions:
        problems.append("sessions: " + _("at least one session is required"))
        raw_sessions = []
    for index, raw in enumerate(raw_sessions, start=1):
        label = f"sessions[{index}]"
        if not isinstance(raw, dict):
            problems.append(_not_an_object(label))
            continue
        for key in sorted(set(raw) - _SESSION_FIELDS):
            problems.append(_unknown_field(f"{label}.{key}"))
        s_title = raw.get("title")
        if not isinstance(s_title, str) or not single_line(s_title):
            problems.append(_missing(f"{label}.title"))
            s_title = ""
        elif len(single_line(s_title)) > 200:
            problems.append(_too_long(f"{label}.title", 200, len(single_line(s_title))))
        starts = when("starts_at", raw, f"{label}.starts_at")
        ends = when("ends_at", raw, f"{label}.ends_at")
        if starts and ends and ends <= starts:
            problems.append(f"{label}.ends_at: " + _("must be after starts_at"))
        join_url = raw.get("join_url") or ""
        if not isinstance(join_url, str):
            problems.append(_not_text(f"{label}.join_url"))
            join_url = ""
        elif join_url:
            if has_control_characters(join_url) or any(c.isspace() for c in join_url):
                # urlsplit would quietly drop a CR/LF; stored, it breaks the .ics and the email.
                problems.append(f"{label}.join_url: " + _("must not contain spaces, line breaks or control characters"))
            else:
                parts = urlsplit(join_url)
                if (parts.scheme != "https" and parts.scheme != "http") or not parts.netloc or len(join_url) > 500:
                    problems.append(f"{label}.join_url: " + _("%(value)s is not an http(s) link", value=repr(join_url)))
        passcode = raw.get("passcode") or ""
        if not isinstance(passcode, str) or len(passcode) > 64:
            problems.append(_text_of_at_most(f"{label}.passcode", 64))
            passcode = ""
        zoom_id = raw.get("zoom_meeting_id")
        if zoom_id is not None and (not isinstance(zoom_id, str | int) or len(str(zoom_id)) > 64):
            problems.append(_text_of_at_most(f"{label}.zoom_meeting_id", 64))
            zoom_id = None
        zoom_type = raw.get("zoom_type", "webinar")
        if zoom_type not in ZOOM_TYPES:
            problems.append(f"{label}.zoom_type: " + _("must be webinar or meeting"))
            zoom_type = "webinar"
        zoom_create = raw.get("zoom_create", False)
        if not isinstance(zoom_create, bool):
            problems.append(_not_true_or_false(f"{label}.zoom_create"))
            zoom_create = False
        if not join_url and not zoom_id and not zoom_create:
            problems.append(f"{label}.join_url: " + _("is required (the link participants use to join)"))
        if starts and ends:
            sessions.append(
                SessionSpec(
                    title=single_line(s_title, 200),
                    starts_at=starts,
                    ends_at=ends,
                    join_url=join_url,
                    passcode=single_line(passcode),
                    zoom_meeting_id=single_line(str(zoom_id)) if zoom_id is not None else None,
                    zoom_type=zoom_type,
                    zoom_create=zoom_create and zoom_id is None,
                )
            )

    questions = _validate_questions(data.get("questions"), problems)

    language = data.get("language", "en")
    if language not in LANGUAGES:
        problems.append(
            "language: "
            + _(
                "must be one of %(languages)s (the language the program is written in)",
                languages=", ".join(LANGUAGES),
            )
        )
        language = "en"
    sessions.sort(key=lambda s: s.starts_at)
    translations, session_translations = _validate_translations(
        data.get("translations"), language, len(raw_sessions), problems
    )
    for session, translated in zip(sessions, session_translations, strict=False):
        session.translations = translated

    if deadline and sessions:
        first = min(s.starts_at for s in sessions)
        if deadline > first:
            problems.append("registration_deadline: " + _("must not be after the first session starts"))
    if opens_at and deadline and opens_at >= deadline:
        problems.append("registration_opens_at: " + _("must be before registration_deadline"))

    if problems:
        raise ProgramImportError(problems)
    assert deadline is not None
    return ProgramSpec(
        slug=slug,
        title=title,
        summary=summary,
        description=description,
        organiser_name=organiser,
        timezone=timezone,
        registration_opens_at=opens_at,
        registration_deadline=deadline,
        capacity=capacity,
        waitlist_enabled=waitlist,
        approval_required=approval,
        attendance_threshold_percent=threshold,
        certificates=certificates,
        status=status,
        reminder_minutes=reminder_minutes,
        sessions=sessions,
        questions=questions,
        language=language,
        translations=translations,
    )


def _offset_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def program_file(program: Program) -> dict[str, Any]:
    """The program as a program file (the import format): what the console edits and
    what duplicating copies. Times carry the program's UTC offset."""
    zone = program.zone

    def iso(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat() if value else None

    return {
        "slug": program.slug,
        "title": program.title,
        "summary": program.summary,
        "description": program.description,
        "organiser": program.organiser_name,
        "timezone": program.timezone,
        "registration_opens_at": iso(program.registration_opens_at),
        "registration_deadline": iso(program.registration_deadline),
        "capacity": program.capacity,
        "waitlist": program.waitlist_enabled,
        "approval_required": program.approval_required,
        "attendance_threshold_percent": program.attendance_threshold_percent,
        "certificates": program.certificates,
        "status": program.status,
        "reminders": [_offset_text(m) for m in program.reminder_minutes or []],
        "questions": [dict(q) for q in program.questions or []],
        "language": program.language,
        "translations": translations_file(program),
        "sessions": [
            {
                "title": s.title,
                "starts_at": iso(s.starts_at),
                "ends_at": iso(s.ends_at),
                "join_url": s.join_url,
                "passcode": s.passcode,
                **({"zoom_meeting_id": s.zoom_meeting_id, "zoom_type": s.zoom_type} if s.zoom_meeting_id else {}),
                # Still to be created in Zoom: an unchanged save keeps asking for it.
                **(
                    {"zoom_create": True, "zoom_type": s.zoom_type}
                    if not s.zoom_meeting_id and s.zoom_sync in ("create", "creating")
                    else {}
                ),
            }
            for s in program.sessions
        ],
    }


def translations_file(program: Program) -> dict[str, dict[str, Any]]:
    """The program's translations as the program file writes them: per language, its
    texts and its sessions' titles in start order ({} for a session without one)."""
    result: dict[str, dict[str, Any]] = {}
    sessions = program.sessions
    for code in LANGUAGES:
        entry: dict[str, Any] = {k: v for k, v in (program.translations or {}).get(code, {}).items() if v}
        titles = [{"title": t} if (t := (s.translations or {}).get(code, {}).get("title")) else {} for s in sessions]
        while titles and not titles[-1]:
            titles.pop()
        if titles:
            entry["sessions"] = titles
        if entry:
            result[code] = entry
    return result


def moved_file(data: dict[str, Any], shift: timedelta) -> dict[str, Any]:
    """A program file with every time (opening, deadline, sessions) moved by `shift`."""

    def moved(value: str | None) -> str | None:
        return (datetime.fromisoformat(value) + shift).isoformat() if value else None

    return data | {
        "registration_opens_at": moved(data.get("registration_opens_at")),
        "registration_deadline": moved(data["registration_deadline"]),
        "sessions": [
            s | {"starts_at": moved(s["starts_at"]), "ends_at": moved(s["ends_at"])} for s in data["sessions"]
        ],
    }
