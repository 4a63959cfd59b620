"""Building and delivering outbox emails over SMTP (Flask-Mail).

`deliver_email` is what the worker's task calls: claim the row, render it in the
registrant's language, send, record the outcome. Safe to run twice for one row.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from flask_mail import Connection, Message

from webapp.extensions import db
from webapp.models import Email, Program, Registration
from webapp.services import outbox
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
}


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


def session_views(program: Program, registration: Registration, *, with_links: bool) -> list[SessionView]:
    views = []
    zone = registration.timezone or program.timezone
    for s in program.sessions:
        views.append(
            SessionView(
                title=s.title,
                starts_local=format_in_zone(s.starts_at, zone, registration.language, "long"),
                starts_program=format_in_zone(s.starts_at, program.timezone, registration.language, "long"),
                ends_local=format_in_zone(s.ends_at, zone, registration.language, "time"),
                join_url=s.join_url if with_links else "",
                passcode=s.passcode if with_links else "",
                same_zone=zone == program.timezone,
            )
        )
    return views


_SUBJECTS = {
    "confirmation": lambda t: gettext("You are registered: %(title)s", title=t),
    "waitlisted": lambda t: gettext("You are on the waiting list: %(title)s", title=t),
    "pending": lambda t: gettext("Registration received, awaiting approval: %(title)s", title=t),
    "already_registered": lambda t: gettext("Your registration for %(title)s", title=t),
    "cancelled": lambda t: gettext("Registration cancelled: %(title)s", title=t),
    "rejected": lambda t: gettext("Your registration for %(title)s", title=t),
}


def build_message(email: Email) -> Message:
    """Render an outbox row into a multipart message (text + HTML, .ics where useful)."""
    registration = email.registration
    if registration is None:
        raise ValueError("email has no registration")
    program = registration.program
    confirmed = registration.status == "confirmed"
    link = manage_url(registration.token)
    with force_locale(registration.language or "en"):
        context: dict[str, Any] = {
            "email": email,
            "registration": registration,
            "program": program,
            "sessions": session_views(program, registration, with_links=confirmed),
            "confirmed": confirmed,
            "manage_url": link,
            "program_url": external_url("public.program", slug=program.slug),
            "zone_label": zone_label(registration.timezone or program.timezone, registration.language),
            "program_zone_label": zone_label(program.timezone, registration.language),
        }
        subject = single_line(_SUBJECTS[email.kind](program.title), 250)
        text = render_template(f"email/{email.kind}.txt", **context)
        html = render_template(f"email/{email.kind}.html", **context)

    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message = Message(
        subject=subject,
        recipients=[(single_line(registration.full_name, 200), email.recipient)],
        body=text,
        html=html,
        sender=sender,
        extra_headers={
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "Content-Language": single_line(registration.language, 16) or "en",
        },
    )
    message.msgId = email.message_id
    if confirmed and email.kind in ("confirmation", "already_registered"):
        ics = build_calendar(program.sessions, method="PUBLISH", include_link=True, manage_url=link)
        message.attach(
            filename="invite.ics",
            content_type="text/calendar; charset=utf-8; method=PUBLISH",
            data=ics,
        )
    return message


def _classify(exc: BaseException) -> tuple[bool, str]:
    """(permanent?, reason) for an SMTP failure. 5xx replies are permanent; 4xx
    replies, refused connections and timeouts are transient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
        return (all(code >= 500 for code in codes), f"recipient refused: {detail}")
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return (exc.smtp_code >= 500, f"SMTP {exc.smtp_code} {msg}")
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError | socket.timeout | TimeoutError | OSError):
        return (False, f"{type(exc).__name__}: {exc}")
    return (False, f"{type(exc).__name__}: {exc}")


def deliver_email(email_id: int) -> str:
    """Deliver one outbox row. Returns what happened: "sent", "skipped" (another task
    has it, or it is not due), "expired", "failed" or "retry".

    Side effects: commits the row's state transitions; sends one email over SMTP.
    """
    if not outbox.claim(email_id):
        return "skipped"
    email = db.session.get(Email, email_id, populate_existing=True)
    assert email is not None
    registration = email.registration
    wanted = VALID_STATUSES.get(email.kind)
    if registration is None or (wanted is not None and registration.status not in wanted):
        now_status = registration.status if registration else "deleted"
        outbox.mark_final(email_id, "expired", f"not sent: the registration is now {now_status}")
        return "expired"
    try:
        message = build_message(email)
    except Exception as exc:  # a bug or bad data: keep the reason, do not retry forever
        log.exception("could not build email %s", email_id)
        outbox.mark_final(email_id, "failed", f"could not build the message: {type(exc).__name__}: {exc}")
        return "failed"
    try:
        with smtp_connection() as connection:
            connection.send(message)
    except Exception as exc:
        permanent, reason = _classify(exc)
        db.session.rollback()
        if permanent:
            outbox.mark_final(email_id, "failed", reason)
            return "failed"
        log.warning("transient failure sending email %s: %s", email_id, reason)
        return "retry" if outbox.mark_transient_failure(email_id, reason) == "pending" else "failed"
    outbox.mark_sent(email_id)
    return "sent"
