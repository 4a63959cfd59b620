"""Zoom tasks: cancel registrants who left; the organiser's retry of missing links;
sessions' webinars and meetings created, changed and deleted; attendance reports
fetched, and swept for when no ended event came. (Adding registrants happens as their
confirmation is delivered: `tasks.emails`.)"""

from __future__ import annotations

from celery import shared_task

from webapp.services import attendance
from webapp.services.zoom import ZoomError, registrants, sessions, webhooks


@shared_task(name="worker.tasks.zoom.cancel_registrants")
def cancel_registrants(registration_ids: list[int] | None = None) -> dict[str, int]:
    """Cancel in Zoom the places of registrations that left (these, or every due one:
    beat's sweep). Safe to run twice: a cancelled place is not cancelled again."""
    return registrants.cancel_registrants(registration_ids)


@shared_task(name="worker.tasks.zoom.retry_links")
def retry_links(row_ids: list[int]) -> dict[str, int]:
    """One more try for personal links Zoom did not give; each new link is emailed."""
    return registrants.retry_links(row_ids)


@shared_task(name="worker.tasks.zoom.handle_event")
def handle_event(event_id: int) -> str:
    """Take an event Zoom's webhook delivered (kept once; safe to run twice)."""
    return webhooks.handle_event(event_id)


@shared_task(name="worker.tasks.zoom.fetch_attendance")
def fetch_attendance(session_id: int) -> dict[str, int]:
    """Minutes per registrant from Zoom's participants report of a past session (the
    ended event, the organiser's button, or beat's sweep). Safe to run twice: it
    replaces, never adds. A failed fetch is not retried here: it records when to try
    again, and beat's sweep is the one retry path (a Celery retry as well would ask Zoom
    twice, and once more after the report was read)."""
    try:
        result = attendance.fetch_from_zoom(session_id)
    except ZoomError:  # recorded on the session: the organiser reads it, the sweep retries
        return {"matched": 0, "unmatched": 0, "failed": 1}
    return {"matched": result.matched, "unmatched": result.unmatched}


@shared_task(name="worker.tasks.zoom.sync_sessions")
def sync_sessions(session_ids: list[int] | None = None) -> dict[str, int]:
    """Create, change or delete in Zoom the webinars and meetings of these sessions (or
    of every session with such an action due: beat's sweep). Safe to run twice: a row
    claimed by another worker, or already in step, is left alone; a create whose outcome
    is unknown looks in Zoom before creating again."""
    return sessions.sync_sessions(session_ids)


@shared_task(name="worker.tasks.zoom.sweep_attendance")
def sweep_attendance() -> int:
    """Beat's sweep: a fetch task for each ended Zoom session whose report was never
    read (the ended event lost, or every fetch failed), with backoff between tries."""
    return attendance.sweep_attendance()
