"""Reminders before each session: turning those that have fallen due into outbox rows.

For each upcoming session and each of its program's reminder offsets, every registrant
confirmed by the time the reminder fell due gets one email, once. The scheduler is run
by beat (never as ETA tasks), is idempotent (unique dedupe keys; running it twice, or on
two beats at once, writes nothing new) and cheap once a reminder is done (ReminderRun).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.database import insert_ignoring_duplicates
from webapp.extensions import db
from webapp.models import Program, ProgramSession, Registration, ReminderRun, utcnow
from webapp.services.outbox import queue_bulk
from webapp.services.transactions import unit_of_work


def reminder_key(session: ProgramSession, minutes: int, registration_id: int) -> str:
    return f"reminder:{session.id}:{minutes}:s{session.ics_sequence}:{registration_id}"


def schedule_due_reminders(now: datetime | None = None) -> dict[str, int]:
    """Write outbox rows for every reminder that has fallen due, then enqueue them.

    A reminder is superseded (nobody gets it) if its session was rescheduled after it
    fell due: the "updated" email told everyone. Side effects: commits once per
    (session, offset) processed; enqueues delivery. Returns {"emails": n, "reminders": m}.
    """
    now = now or utcnow()
    settle = timedelta(seconds=current_app.config["REMINDER_SETTLE_SECONDS"])
    sessions = list(
        db.session.scalars(
            select(ProgramSession)
            .join(Program)
            .where(
                ProgramSession.starts_at > now,
                ProgramSession.cancelled_at.is_(None),
                Program.status.in_(("published", "closed")),
            )
            .options(selectinload(ProgramSession.program))
        )
    )
    if not sessions:
        db.session.rollback()
        return {"emails": 0, "reminders": 0}
    done = set(
        db.session.execute(
            select(ReminderRun.session_id, ReminderRun.minutes, ReminderRun.sequence).where(
                ReminderRun.session_id.in_([s.id for s in sessions])
            )
        ).tuples()
    )
    db.session.rollback()  # end the read; each reminder below is its own transaction

    emails = reminders = 0
    for session in sessions:
        for minutes in session.program.reminder_minutes or []:
            due = session.starts_at - timedelta(minutes=minutes)
            if due > now or (session.id, minutes, session.ics_sequence) in done:
                continue
            ids: list[int] = []
            with unit_of_work():
                if session.rescheduled_at is None or session.rescheduled_at <= due:
                    recipients = select(Registration.id, Registration.email).where(
                        Registration.program_id == session.program_id,
                        Registration.status == "confirmed",
                        Registration.confirmed_at <= due,
                    )
                    ids = queue_bulk(
                        "reminder",
                        recipients,
                        dedupe_key=lambda rid, s=session, m=minutes: reminder_key(s, m, rid),
                        session_id=session.id,
                        payload={"minutes": minutes},
                    )
                if now >= due + settle:
                    _record_run(session, minutes, due, len(ids))
            emails += len(ids)
            reminders += 1
    return {"emails": emails, "reminders": reminders}


def _record_run(session: ProgramSession, minutes: int, due: datetime, created: int) -> None:
    db.session.execute(
        insert_ignoring_duplicates(ReminderRun.__table__, ["session_id", "minutes", "sequence"]).values(
            session_id=session.id,
            minutes=minutes,
            sequence=session.ics_sequence,
            due_at=due,
            emails_created=created,
            completed_at=utcnow(),
        )
    )
