"""Delivering outbox emails over SMTP (Flask-Mail).

`deliver_emails` is what the worker's task calls: claim the rows, compose each
(`composer.build_message`), send them over one connection, record each outcome. Safe to
run twice for the same rows.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime

from flask import current_app
from flask_mail import Connection
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Email, Program, ProgramSession, Registration, utcnow
from webapp.services import outbox
from webapp.services.composer import CalendarCache, build_message
from webapp.services.errors import CertificateNotRendered
from webapp.services.pacing import Pacer
from webapp.services.zoom.registrants import PersonalLinks

log = logging.getLogger(__name__)

# A kind of email is only worth sending while the registration is in one of these
# states: a confirmation must not carry the link to somebody who has since cancelled.
VALID_STATUSES = {
    "confirmation": {"confirmed"},
    "waitlisted": {"waitlisted"},
    "pending": {"pending"},
    "reminder": {"confirmed"},
    "session_updated": {"confirmed"},
    "session_cancelled": {"confirmed"},
    # Organisers' messages reach people still registered; their segment decides the rest.
    "message": {"confirmed", "waitlisted", "pending"},
}
# Kinds about one session (Email.session_id is set).
SESSION_KINDS = ("reminder", "session_updated", "session_cancelled")


class SMTPConnection(Connection):
    """Flask-Mail's connection, with a socket timeout (it sets none, so a stalled server
    would hang a worker forever)."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        timeout = current_app.config.get("MAIL_TIMEOUT", 30.0)
        host: smtplib.SMTP | smtplib.SMTP_SSL
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def smtp_connection() -> SMTPConnection:
    return SMTPConnection(current_app.extensions["mail"])


def _classify(exc: BaseException) -> tuple[bool, bool, str]:
    """(permanent?, connection lost?, reason) for an SMTP failure. 5xx replies are
    permanent; 4xx replies, refused connections and timeouts are transient. An address
    this server cannot take (non-ASCII, and no SMTPUTF8 offered) is permanent: it fails
    the same way every time. smtplib may have sent MAIL FROM before finding that out,
    so the connection is not reused ("lost")."""
    if isinstance(exc, UnicodeError | smtplib.SMTPNotSupportedError):
        return (
            True,
            True,
            "the address has characters this mail server does not accept (not ASCII, and the server "
            f"does not offer SMTPUTF8): {type(exc).__name__}",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
        return (all(code >= 500 for code in codes), 421 in codes, f"recipient refused: {detail}")
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return (exc.smtp_code >= 500, exc.smtp_code == 421, f"SMTP {exc.smtp_code} {msg}")
    if isinstance(exc, smtplib.SMTPException | OSError):
        return (False, True, f"{type(exc).__name__}: {exc}")
    return (False, False, f"{type(exc).__name__}: {exc}")


def _not_worth_sending(email: Email, now: datetime) -> str | None:
    """Why a claimed row should expire instead of being sent, or None."""
    registration = email.registration
    if registration is None:
        return "not sent: the registration no longer exists"
    wanted = VALID_STATUSES.get(email.kind)
    if wanted is not None and registration.status not in wanted:
        return f"not sent: the registration is now {registration.status}"
    if email.kind in SESSION_KINDS:
        session = db.session.get(ProgramSession, email.session_id) if email.session_id else None
        if session is None:
            return "not sent: the session no longer exists"
        if email.kind in ("reminder", "session_updated") and session.cancelled_at is not None:
            return "not sent: the session was cancelled"
        if email.kind == "reminder" and session.starts_at <= now:
            return "not sent: the session had already started"
    if email.kind in ("reminder", "session_updated") and registration.program.status == "cancelled":
        return "not sent: the program was cancelled"
    return None


# Mark delivered rows in groups: fewer commits, and at most this many rows are resent
# if the worker dies between sending and recording.
SENT_FLUSH_EVERY = 25


def deliver_emails(email_ids: list[int]) -> dict[int, str]:
    """Deliver outbox rows over one SMTP connection. Returns what happened to each id:
    "sent", "skipped" (another task has it, or it is not due yet), "expired", "failed",
    "retry" (a transient failure; the row is pending again with a later attempt) or
    "deferred" (waiting for Zoom to give the personal link it must carry).

    Side effects: commits the rows' state transitions; sends email over SMTP; adds
    confirmed registrants to their Zoom sessions first (`PersonalLinks`). Safe to run
    twice for the same ids: only pending rows are claimed.
    """
    outcomes = dict.fromkeys(email_ids, "skipped")
    claimed = outbox.claim(list(email_ids))
    if not claimed:
        return outcomes
    emails = {
        e.id: e
        for e in db.session.scalars(
            select(Email)
            .where(Email.id.in_(claimed))
            .options(
                selectinload(Email.registration).selectinload(Registration.program).selectinload(Program.all_sessions)
            )
        )
    }
    calendars: CalendarCache = {}
    pacer = Pacer(float(current_app.config.get("MAIL_MAX_PER_SECOND") or 0))
    connection: SMTPConnection | None = None
    sent: list[int] = []
    links = PersonalLinks()
    try:
        for position, email_id in enumerate(claimed):
            email = emails[email_id]
            reason = _not_worth_sending(email, utcnow())
            if reason:
                outbox.mark_final(email_id, "expired", reason)
                outcomes[email_id] = "expired"
                continue
            try:
                wait = links.before_sending(email)
            except Exception:  # a bug or bad data must not hold the email: it goes with the static link
                log.exception("could not prepare the Zoom links of email %s", email_id)
                db.session.rollback()
                wait = None
            if wait is not None:
                outbox.defer(email_id, wait.until, f"waiting for Zoom: {wait.reason}")
                outcomes[email_id] = "deferred"
                continue
            try:
                message = build_message(email, calendars)
            except CertificateNotRendered as exc:
                # Never sent without its PDF: the row waits and is tried again with the
                # others' backoff, then fails with this reason for the organiser to see.
                db.session.rollback()
                reason = f"the certificate PDF could not be made: {exc}"
                log.warning("email %s: %s", email_id, reason)
                outcomes[email_id] = _retry_later(email_id, reason)
                continue
            except Exception as exc:  # a bug or bad data: keep the reason, do not retry forever
                log.exception("could not build email %s", email_id)
                outbox.mark_final(email_id, "failed", f"could not build the message: {type(exc).__name__}: {exc}")
                outcomes[email_id] = "failed"
                continue
            pacer.wait()
            try:
                if connection is None:
                    connection = smtp_connection().__enter__()
                connection.send(message)
            except Exception as exc:
                permanent, lost, reason = _classify(exc)
                db.session.rollback()
                if permanent:
                    outbox.mark_final(email_id, "failed", reason)
                    outcomes[email_id] = "failed"
                    if lost:  # the SMTP session is in an unknown state: the next email opens a new one
                        _close_quietly(connection)
                        connection = None
                    continue
                log.warning("transient failure sending email %s: %s", email_id, reason)
                outcomes[email_id] = (
                    "retry" if outbox.mark_transient_failure(email_id, reason) == "pending" else "failed"
                )
                if lost:
                    # The server is gone or going: the rest of the batch waits for a retry.
                    _close_quietly(connection)
                    connection = None
                    for later in claimed[position + 1 :]:
                        outcomes[later] = _retry_later(later, reason)
                    break
                continue
            sent.append(email_id)
            outcomes[email_id] = "sent"
            if len(sent) >= SENT_FLUSH_EVERY:
                outbox.mark_sent(sent)
                sent = []
    finally:
        outbox.mark_sent(sent)
        _close_quietly(connection)
        links.close()
    return outcomes


def _retry_later(email_id: int, reason: str) -> str:
    return "retry" if outbox.mark_transient_failure(email_id, reason) == "pending" else "failed"


def _close_quietly(connection: SMTPConnection | None) -> None:
    if connection is None or connection.host is None:
        return
    try:
        connection.host.quit()
    except (smtplib.SMTPException, OSError):
        connection.host.close()


def deliver_email(email_id: int) -> str:
    """Deliver one outbox row; see `deliver_emails`."""
    return deliver_emails([email_id])[email_id]
