"""iCalendar (.ics) files for sessions.

Each session has a UID that never changes and a SEQUENCE that rises with every change,
so a calendar that imported the event updates it instead of adding a duplicate. Titles,
summary and labels are in the reader's language (`programs/localized.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import force_locale, gettext
from icalendar import Calendar, Event

from webapp.models import ProgramSession, utcnow
from webapp.services.programs.localized import program_text, session_title


def event_title(program_title: str, session_title: str) -> str:
    """What a calendar shows for a session: its own title when that already names the
    program (or the program has a single title for both), else "program: session"."""
    if program_title.casefold() in session_title.casefold():
        return session_title
    if session_title.casefold() in program_title.casefold():
        return program_title
    return f"{program_title}: {session_title}"


def _language(languages: set[str]) -> dict[str, str] | None:
    """The LANGUAGE parameter (RFC 5545) for a text in one language; none for a mix."""
    return {"LANGUAGE": next(iter(languages))} if len(languages) == 1 else None


def build_calendar(
    sessions: Iterable[ProgramSession],
    *,
    method: str = "PUBLISH",
    include_link: bool,
    links: Mapping[int, str] | None = None,
    locale: str = "en",
) -> bytes:
    """One VCALENDAR with a VEVENT per session, in the language `locale`.

    `include_link` puts the join link and passcode in the event: only for confirmed
    registrants (Rule 5). METHOD:CANCEL marks the events cancelled. The self-service
    link is deliberately left out: calendars are often shared, and it is a secret.
    The result depends only on the sessions and the language, so one file serves every
    reader of that language in a batch. SUMMARY and DESCRIPTION carry a LANGUAGE
    parameter when all of their text is in one language.
    `links` maps session ids to the registrant's personal Zoom link, used instead of
    the session's own.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//Rollcall//Training programs//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    stamp = utcnow()
    with force_locale(locale):
        join_label, passcode_label = gettext("Join"), gettext("Passcode")
    for session in sessions:
        text = program_text(session.program, locale)
        title = session_title(session, locale)
        event = Event()
        event.add("uid", session.ics_uid)
        event.add("sequence", session.ics_sequence + (1 if method == "CANCEL" else 0))
        event.add("dtstamp", stamp)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        summary_languages = {text.title.language, title.language}
        event.add("summary", event_title(text.title.text, title.text), parameters=_language(summary_languages))
        lines = [text.summary.text] if text.summary else []
        description_languages = {text.summary.language} if text.summary else set()
        join_url = (links.get(session.id) if links else None) or session.join_url
        if include_link and join_url:
            event.add("location", join_url)
            event.add("url", join_url)
            lines.append(f"{join_label}: {join_url}")
            if session.passcode:
                lines.append(f"{passcode_label}: {session.passcode}")
            description_languages.add(locale)
        event.add("description", "\n".join(lines), parameters=_language(description_languages))
        event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
