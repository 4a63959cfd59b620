"""Building and delivering outbox emails over SMTP (Flask-Mail).

`deliver_emails` is what the worker's task calls: claim the rows, render each in the
registrant's language, send them over one connection, record each outcome. Safe to run
twice for the same rows.
"""

from __future__ import annotations

import email.policy
import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from flask_mail import Connection, Message
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Email, Program, ProgramSession, Registration, utcnow
from webapp.models import Message as OrganiserMessage
from webapp.services import messages, outbox
from webapp.services.ics import build_calendar
from webapp.services.links import external_url, manage_url
from webapp.services.text import single_line
from webapp.services.times import format_in_zone, zone_label

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


@dataclass(frozen=True)
class SessionView:
    """A session as an email or page shows it to one registrant."""

    title: str
    starts_local: str
    starts_program: str
    ends_local: str
    join_url: str
    passcode: str
    same_zone: bool


def _session_view(
    session: ProgramSession, program: Program, zone: str, locale: str, *, with_links: bool
) -> SessionView:
    return SessionView(
        title=session.title,
        starts_local=format_in_zone(session.starts_at, zone, locale, "long"),
        starts_program=format_in_zone(session.starts_at, program.timezone, locale, "long"),
        ends_local=format_in_zone(session.ends_at, zone, locale, "time"),
        join_url=session.join_url if with_links else "",
        passcode=session.passcode if with_links else "",
        same_zone=zone == program.timezone,
    )


def session_views(program: Program, registration: Registration, *, with_links: bool) -> list[SessionView]:
    """The program's sessions as one registrant sees them: their zone, their language,
    links only if `with_links`."""
    zone = registration.timezone or program.timezone
    locale = registration.language or "en"
    return [_session_view(s, program, zone, locale, with_links=with_links) for s in program.sessions]


def _subject(email: Email, program: Program, session: ProgramSession | None, zone: str, locale: str) -> str:
    title = program.title
    if email.kind == "confirmation":
        return gettext("You are registered: %(title)s", title=title)
    if email.kind == "waitlisted":
        return gettext("You are on the waiting list: %(title)s", title=title)
    if email.kind == "pending":
        return gettext("Registration received, awaiting approval: %(title)s", title=title)
    if email.kind in ("already_registered", "rejected"):
        return gettext("Your registration for %(title)s", title=title)
    if email.kind == "cancelled":
        return gettext("Registration cancelled: %(title)s", title=title)
    if email.kind == "program_cancelled":
        return gettext("Cancelled: %(title)s", title=title)
    if email.kind == "message":
        return messages.fill(_organiser_message(email).subject, email.registration, program)
    assert session is not None
    when = format_in_zone(session.starts_at, zone, locale, "medium")
    if email.kind == "reminder":
        return gettext("Reminder: %(title)s starts %(when)s", title=session.title, when=when)
    if email.kind == "session_updated":
        return gettext("New time or link: %(title)s, %(when)s", title=session.title, when=when)
    if email.kind == "session_cancelled":
        return gettext("Cancelled: %(title)s", title=session.title)
    raise ValueError(f"unknown email kind {email.kind!r}")


CalendarCache = dict[tuple[Any, ...], bytes]


def _calendar(
    email: Email, program: Program, session: ProgramSession | None, confirmed: bool, cache: CalendarCache
) -> bytes | None:
    """The .ics an email carries, for confirmed registrants only: sessions to add or
    update (PUBLISH, with the join link) or to remove (CANCEL). Built once per batch
    for each set of sessions: the file does not depend on the registrant."""

    def calendar(sessions: list[ProgramSession], method: str, include_link: bool) -> bytes:
        key = (method, include_link, tuple((s.id, s.ics_sequence, s.cancelled_at) for s in sessions))
        if key not in cache:
            cache[key] = build_calendar(sessions, method=method, include_link=include_link)
        return cache[key]

    if not confirmed:
        return None
    if email.kind == "program_cancelled":
        return calendar(program.all_sessions, "CANCEL", False)
    if program.status == "cancelled":
        return None
    if email.kind in ("confirmation", "already_registered"):
        return calendar(program.sessions, "PUBLISH", True)
    if email.kind in ("reminder", "session_updated") and session is not None:
        return calendar([session], "PUBLISH", True)
    if email.kind == "session_cancelled" and session is not None:
        return calendar([session], "CANCEL", False)
    return None


def _organiser_message(email: Email) -> OrganiserMessage:
    message = db.session.get(OrganiserMessage, (email.payload or {}).get("message_id"))
    if message is None:
        raise ValueError("the message this email belongs to no longer exists")
    return message


def _previous_when(email: Email, zone: str, locale: str) -> str:
    previous = (email.payload or {}).get("previous_starts_at")
    if not previous:
        return ""
    return format_in_zone(datetime.fromisoformat(previous), zone, locale, "long")


# Serialise with the classic policy: same bytes on the wire (CRLF), without re-parsing
# every header through email.headerregistry (a third of the build time).
_WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")


class OutboxMessage(Message):
    """Flask-Mail's message, serialised faster."""

    def as_bytes(self) -> bytes:
        return self._message().as_bytes(policy=_WIRE_POLICY)


def build_message(email: Email, calendars: CalendarCache | None = None) -> Message:
    """Render an outbox row into a multipart message (text + HTML, .ics where useful),
    in the registrant's language, with times in their zone and the program's.
    `calendars` shares .ics files between the messages of a batch."""
    registration = email.registration
    if registration is None:
        raise ValueError("email has no registration")
    program = registration.program
    session = db.session.get(ProgramSession, email.session_id) if email.session_id else None
    # Rule 5: links only to confirmed registrants; a cancelled program has none.
    confirmed = registration.status == "confirmed"
    with_links = confirmed and program.status != "cancelled"
    link = manage_url(registration.token)
    locale = registration.language or "en"
    zone = registration.timezone or program.timezone
    with force_locale(locale):
        session_view = None
        if session is not None:
            session_view = _session_view(session, program, zone, locale, with_links=with_links)
        context: dict[str, Any] = {
            "email": email,
            "registration": registration,
            "program": program,
            "session": session_view,
            "sessions": session_views(program, registration, with_links=with_links),
            "confirmed": confirmed,
            "manage_url": link,
            "program_url": external_url("public.program", slug=program.slug),
            "zone_label": zone_label(zone, locale),
            "program_zone_label": zone_label(program.timezone, locale),
            "previous_when": _previous_when(email, zone, locale),
            "message_body": (
                messages.fill(_organiser_message(email).body, registration, program) if email.kind == "message" else ""
            ),
        }
        subject = single_line(_subject(email, program, session, zone, locale), 250)
        text = render_template(f"email/{email.kind}.txt", **context)
        html = render_template(f"email/{email.kind}.html", **context)

    message = OutboxMessage(
        subject=subject,
        recipients=[(single_line(registration.full_name, 200), email.recipient)],
        body=text,
        html=html,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        extra_headers={
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "Content-Language": single_line(locale, 16) or "en",
        },
    )
    message.msgId = email.message_id
    ics = _calendar(email, program, session, confirmed, {} if calendars is None else calendars)
    if ics is not None:
        method = "CANCEL" if b"METHOD:CANCEL" in ics else "PUBLISH"
        message.attach(
            filename="invite.ics",
            content_type=f"text/calendar; charset=utf-8; method={method}",
            data=ics,
        )
    return message


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


class Pacer:
    """Keeps one worker under MAIL_MAX_PER_SECOND."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


# Mark delivered rows in groups: fewer commits, and at most this many rows are resent
# if the worker dies between sending and recording.
SENT_FLUSH_EVERY = 25


def deliver_emails(email_ids: list[int]) -> dict[int, str]:
    """Deliver outbox rows over one SMTP connection. Returns what happened to each id:
    "sent", "skipped" (another task has it, or it is not due yet), "expired", "failed"
    or "retry" (a transient failure; the row is pending again with a later attempt).

    Side effects: commits the rows' state transitions; sends email over SMTP. Safe to run
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
    try:
        for position, email_id in enumerate(claimed):
            email = emails[email_id]
            reason = _not_worth_sending(email, utcnow())
            if reason:
                outbox.mark_final(email_id, "expired", reason)
                outcomes[email_id] = "expired"
                continue
            try:
                message = build_message(email, calendars)
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
