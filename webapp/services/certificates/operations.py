"""Issuing certificates of attendance and reading them: who is eligible, the console's
panel, sending (one certificate and one email each, once), and finding a certificate
by its code or registration.

Eligible: a confirmed registration that attended, by `attendance.attended_condition`
(the one rule), in a program whose `certificates` option is on, once its last session
has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, exists, func, select

from webapp.database import insert_ignoring_duplicates
from webapp.extensions import db
from webapp.models import Certificate, Email, Program, Registration, utcnow
from webapp.services import audit
from webapp.services.attendance import attended_condition, minutes_attended
from webapp.services.audit import Actor
from webapp.services.certificates.codes import new_code, normalize_code
from webapp.services.errors import CertificatesUnavailable, ProgramNotFound
from webapp.services.outbox import queue_bulk
from webapp.services.programs.localized import program_text
from webapp.services.transactions import unit_of_work

EMAIL_KIND = "certificate"


def eligible(program: Program) -> list[ColumnElement[bool]]:
    """SQL: the program's registrations a certificate is for (confirmed, attended)."""
    return [
        Registration.program_id == program.id,
        Registration.status == "confirmed",
        attended_condition(program),
    ]


def _without_certificate() -> ColumnElement[bool]:
    return ~exists().where(Certificate.registration_id == Registration.id)


def check_sendable(program: Program, now: datetime) -> None:
    """Raise CertificatesUnavailable unless certificates may be sent for `program` at
    `now`: the option is on, the program is not cancelled, its last session has ended."""
    if not program.certificates:
        raise CertificatesUnavailable("not_enabled")
    if program.status == "cancelled":
        raise CertificatesUnavailable("cancelled")
    last_end = program.last_end
    if last_end is None or now < last_end:
        raise CertificatesUnavailable("not_yet", last_end)


def session_days(program: Program) -> tuple[date, date]:
    """The first and last day a session of the program starts on, in its zone
    (cancelled sessions left out, as attendance leaves them out)."""
    days = [s.starts_at.astimezone(program.zone).date() for s in program.sessions if s.cancelled_at is None]
    if not days:
        today = utcnow().astimezone(program.zone).date()
        return today, today
    return min(days), max(days)


@dataclass(frozen=True)
class CertificatePanel:
    """What the console's Certificates panel says about one program."""

    ready: bool  # the last session has ended (and the program is not cancelled)
    cancelled: bool
    sendable_from: datetime | None  # the last session's end
    attended: int  # eligible registrants
    issued: int  # certificates issued for the program
    to_issue: int  # eligible and without one: what "Send certificates" issues
    emails: dict[str, int]  # the certificate emails by status (sending counted as pending)
    last_error: str | None  # the reason of the latest failed or retried certificate email


def certificate_panel(program: Program, now: datetime | None = None) -> CertificatePanel:
    """Counts for the panel. Reads only."""
    now = now or utcnow()
    last_end = program.last_end
    cancelled = program.status == "cancelled"
    ready = not cancelled and last_end is not None and now >= last_end
    attended = to_issue = 0
    if ready:
        row = db.session.execute(
            select(func.count(), func.count().filter(_without_certificate()))
            .select_from(Registration)
            .where(*eligible(program))
        ).one()
        attended, to_issue = row
    issued = (
        db.session.scalar(
            select(func.count())
            .select_from(Certificate)
            .join(Registration, Registration.id == Certificate.registration_id)
            .where(Registration.program_id == program.id)
        )
        or 0
    )
    by_status = dict(
        db.session.execute(
            select(Email.status, func.count())
            .join(Registration, Registration.id == Email.registration_id)
            .where(Registration.program_id == program.id, Email.kind == EMAIL_KIND)
            .group_by(Email.status)
        ).all()
    )
    emails = {
        "pending": by_status.get("pending", 0) + by_status.get("sending", 0),
        "sent": by_status.get("sent", 0),
        "failed": by_status.get("failed", 0),
    }
    last_error = db.session.scalar(
        select(Email.last_error)
        .join(Registration, Registration.id == Email.registration_id)
        .where(
            Registration.program_id == program.id,
            Email.kind == EMAIL_KIND,
            Email.status.in_(("pending", "failed")),
            Email.last_error.is_not(None),
        )
        .order_by(Email.id.desc())
        .limit(1)
    )
    return CertificatePanel(
        ready=ready,
        cancelled=cancelled,
        sendable_from=last_end,
        attended=attended,
        issued=issued,
        to_issue=to_issue,
        emails=emails,
        last_error=last_error,
    )


def first_eligible(program: Program) -> Registration | None:
    """The first eligible registrant (by registration), whose certificate the preview shows."""
    return db.session.scalar(select(Registration).where(*eligible(program)).order_by(Registration.id).limit(1))


def minutes_of(program: Program, registration_id: int) -> int:
    """A registration's minutes attended that count (`attendance.minutes_attended`)."""
    return (
        db.session.scalar(
            select(minutes_attended(program)).select_from(Registration).where(Registration.id == registration_id)
        )
        or 0
    )


def issue_certificates(program_id: int, *, actor: Actor) -> int:
    """Issue a certificate to every eligible registrant of the program who has none, and
    queue one email each (kind "certificate", one per certificate by its dedupe key),
    with an audit entry, in one `unit_of_work`: the emails go to the worker after it
    commits, which renders each PDF when sending. Returns how many were issued (0 when
    everyone eligible has one already: a second send issues only the new ones).

    Under the program's row lock, so two sends at once issue each certificate once.
    Raises ProgramNotFound, or CertificatesUnavailable when the option is off, the
    program is cancelled or its last session has not ended."""
    with unit_of_work():
        program = db.session.scalar(
            select(Program).where(Program.id == program_id).with_for_update().execution_options(populate_existing=True)
        )
        if program is None:
            raise ProgramNotFound(str(program_id))
        now = utcnow()
        check_sendable(program, now)
        rows = db.session.execute(
            select(Registration.id, Registration.full_name, Registration.language, minutes_attended(program))
            .where(*eligible(program), _without_certificate())
            .order_by(Registration.id)
        ).all()
        if not rows:
            return 0
        first_day, last_day = session_days(program)
        titles: dict[str, str] = {}
        values = []
        for registration_id, full_name, language, minutes in rows:
            locale = language or "en"
            if locale not in titles:
                titles[locale] = program_text(program, locale).title.text[:200]
            values.append(
                {
                    "registration_id": registration_id,
                    # 80 random bits: two alike among a million is about 4 in 10^13, and
                    # the unique constraint refuses it (the send is then tried again).
                    "code": new_code(),
                    "issued_at": now,
                    "full_name": full_name,
                    "program_title": titles[locale],
                    "organiser_name": (program.organiser_name or "")[:200],
                    "first_day": first_day,
                    "last_day": last_day,
                    "minutes": max(int(minutes or 0), 0),
                    "language": locale,
                }
            )
        table = Certificate.__table__
        statement = insert_ignoring_duplicates(table, ["registration_id"]).returning(
            table.c.id, table.c.registration_id
        )
        issued = {
            registration_id: certificate_id for certificate_id, registration_id in db.session.execute(statement, values)
        }
        if issued:
            queue_bulk(
                EMAIL_KIND,
                select(Registration.id, Registration.email)
                .where(Registration.id.in_(list(issued)))
                .order_by(Registration.id),
                dedupe_key=lambda registration_id: f"{EMAIL_KIND}:{issued[registration_id]}",
            )
            audit.record(actor, "certificates.issued", program=program, count=len(issued))
    return len(issued)


def certificate_of(registration_id: int) -> Certificate | None:
    """The registration's certificate, if one was issued."""
    return db.session.scalar(select(Certificate).where(Certificate.registration_id == registration_id))


def find_by_code(typed: str) -> Certificate | None:
    """The certificate with the code a person typed (in any of the forms `normalize_code`
    accepts), or None. A malformed code never reaches the database."""
    code = normalize_code(typed)
    if code is None:
        return None
    return db.session.scalar(select(Certificate).where(Certificate.code == code))
