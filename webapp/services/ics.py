"""iCalendar (.ics) files for sessions.

Each session has a UID that never changes and a SEQUENCE that rises with every change,
so a calendar that imported the event updates it instead of adding a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from icalendar import Calendar, Event

from webapp.models import ProgramSession, utcnow


def event_title(program_title: str, session_title: str) -> str:
    """What a calendar shows for a session: its own title when that already names the
    program (or the program has a single title for both), else "program: session"."""
    if program_title.casefold() in session_title.casefold():
        return session_title
    if session_title.casefold() in program_title.casefold():
        return program_title
    return f"{program_title}: {session_title}"


def build_calendar(
    sessions: Iterable[ProgramSession],
    *,
    method: str = "PUBLISH",
    include_link: bool,
    links: Mapping[int, str] | None = None,
) -> bytes:
    """One VCALENDAR with a VEVENT per session.

    `include_link` puts the join link and passcode in the event: only for confirmed
    registrants (Rule 5). METHOD:CANCEL marks the events cancelled. The self-service
    link is deliberately left out: calendars are often shared, and it is a secret.
    `links` maps session ids to the registrant's personal Zoom link, used instead of
    the session's own. Without them the result depends only on the sessions, so one
    file serves a whole batch.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//Rollcall//Training programs//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    stamp = utcnow()
    for session in sessions:
        program = session.program
        event = Event()
        event.add("uid", session.ics_uid)
        event.add("sequence", session.ics_sequence + (1 if method == "CANCEL" else 0))
        event.add("dtstamp", stamp)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("summary", event_title(program.title, session.title))
        lines = [program.summary] if program.summary else []
        join_url = (links.get(session.id) if links else None) or session.join_url
        if include_link and join_url:
            event.add("location", join_url)
            event.add("url", join_url)
            lines.append(f"Join: {join_url}")
            if session.passcode:
                lines.append(f"Passcode: {session.passcode}")
        event.add("description", "\n".join(lines))
        event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
