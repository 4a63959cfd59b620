"""Composing an outbox email: its subject, text and HTML parts and calendar file (or
certificate PDF), in the registrant's language, with times in their zone and the
program's. Pages use the same session views. Delivering it is `mailer`'s job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.encoders import encode_base64
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from flask_mail import Message, sanitize_address

from webapp.extensions import db
from webapp.models import Certificate, Email, Program, ProgramSession, Registration
from webapp.models import Message as OrganiserMessage
from webapp.services import messages
from webapp.services.certificates.codes import format_code
from webapp.services.certificates.documents import certificate_pdf, pdf_filename, verify_url
from webapp.services.certificates.operations import certificate_of
from webapp.services.ics import build_calendar
from webapp.services.links import external_url, manage_url
from webapp.services.locales import text_direction
from webapp.services.programs.localized import Localized, program_text, session_title
from webapp.services.text import single_line
from webapp.services.times import format_in_zone, format_span, zone_label
from webapp.services.zoom.registrants import personal_links

# Lines end in CRLF as SMTP wants them (smtplib would convert them anyway).
_WIRE = policy.compat32.clone(linesep="\r\n")


def _header(value: str, name: str, encoding: str) -> str | Header:
    """A header value as the classic generator wants it: plain if ASCII, else a
    `Header` it encodes and folds knowing the header's name."""
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        return Header(value, encoding, header_name=name)
    return value


def _address(address: str | tuple[str, str], name: str, encoding: str) -> str | Header:
    """One address (``"Name <a@b>"`` or ``(name, a@b)``), its name encoded if need be."""
    display, addr = address if isinstance(address, tuple) else parseaddr(address)
    addr = sanitize_address(addr, encoding)  # Flask-Mail's: an IDN domain in ASCII, as Flask-Mail sends it
    try:
        display.encode("ascii")
    except UnicodeEncodeError:
        header = Header(display, encoding, header_name=name)
        header.append(f"<{addr}>", "us-ascii")
        return header
    return formataddr((display, addr))


class OutboxMessage(Message):
    """Flask-Mail's `Message`, written out by the standard library's classic (compat32)
    generator. Flask-Mail hands the generator a tree whose top carries `policy.SMTP`,
    which parses every header again each time the generator asks a part its content
    type: 2.2 ms of CPU per email, against 0.9 ms this way (the worker spent about
    5.7 ms per confirmation; docs/performance.md). The same parts and headers as
    Flask-Mail writes for what `build_message` makes: text and HTML alternatives,
    then attachments; names and subjects encoded (RFC 2047) as Flask-Mail does."""

    def as_bytes(self) -> bytes:
        encoding = self.charset or "utf-8"
        alternative = MIMEMultipart("alternative")
        alternative.attach(MIMEText(self.body or "", "plain", encoding))
        for subtype, content in self.alts.items():
            alternative.attach(MIMEText(content, subtype, encoding))
        top = MIMEMultipart()
        top.attach(alternative)
        if self.subject:
            top["Subject"] = _header(self.subject, "Subject", encoding)
        top["From"] = _address(self.sender, "From", encoding)
        (recipient,) = self.recipients  # one registrant per email
        top["To"] = _address(recipient, "To", encoding)
        top["Date"] = formatdate(self.date, localtime=True)
        top["Message-ID"] = self.msgId
        for name, value in (self.extra_headers or {}).items():
            top[name] = value
        for attachment in self.attachments:
            part = MIMEBase(*attachment.content_type.split("/", 1))
            part.set_payload(attachment.data)
            encode_base64(part)
            if attachment.filename is not None:
                try:
                    attachment.filename.encode("ascii")
                    filename: Any = attachment.filename
                except UnicodeEncodeError:
                    filename = ("UTF8", "", attachment.filename)
                part.add_header("Content-Disposition", attachment.disposition, filename=filename)
            for name, value in attachment.headers.items():
                part.add_header(name, value)
            top.attach(part)
        return top.as_bytes(policy=_WIRE)


@dataclass(frozen=True)
class SessionView:
    """A session as an email or page shows it to one registrant."""

    title: Localized
    starts_local: str
    starts_program: str
    span_local: str  # start to end, the zone named once
    join_url: str
    passcode: str
    same_zone: bool


def _session_view(
    session: ProgramSession, program: Program, zone: str, locale: str, *, with_links: bool, personal_link: str = ""
) -> SessionView:
    return SessionView(
        title=session_title(session, locale),
        starts_local=format_in_zone(session.starts_at, zone, locale, "long"),
        starts_program=format_in_zone(session.starts_at, program.timezone, locale, "long"),
        span_local=format_span(session.starts_at, session.ends_at, zone, locale),
        join_url=(personal_link or session.join_url) if with_links else "",
        passcode=session.passcode if with_links else "",
        same_zone=zone == program.timezone,
    )


def session_views(
    program: Program,
    registration: Registration,
    *,
    with_links: bool,
    zone: str | None = None,
    locale: str | None = None,
    links: dict[int, str] | None = None,
) -> list[SessionView]:
    """The program's sessions as one registrant sees them, links only if `with_links`
    (their personal Zoom link where they have one; `links` when the caller has read
    them already): in `zone` and `locale` (a page: the reader's zone and the page's
    language), by default their stored zone and language (an email), and in the
    program's zone."""
    zone = zone or registration.timezone or program.timezone
    locale = locale or registration.language or "en"
    if links is None:
        links = personal_links(registration.id, program.sessions) if with_links else {}
    return [
        _session_view(s, program, zone, locale, with_links=with_links, personal_link=links.get(s.id, ""))
        for s in program.sessions
    ]


def _subject(email: Email, program: Program, session: ProgramSession | None, zone: str, locale: str) -> str:
    title = program_text(program, locale).title.text
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
    if email.kind == "certificate":
        return gettext("Your certificate of attendance: %(title)s", title=title)
    assert session is not None
    when = format_in_zone(session.starts_at, zone, locale, "medium")
    title = session_title(session, locale).text
    if email.kind == "reminder":
        return gettext("Reminder: %(title)s starts %(when)s", title=title, when=when)
    if email.kind == "session_updated":
        return gettext("New time or link: %(title)s, %(when)s", title=title, when=when)
    if email.kind == "session_cancelled":
        return gettext("Cancelled: %(title)s", title=title)
    raise ValueError(f"unknown email kind {email.kind!r}")


CalendarCache = dict[tuple[Any, ...], bytes]


def _calendar(
    email: Email,
    program: Program,
    session: ProgramSession | None,
    confirmed: bool,
    cache: CalendarCache,
    links: dict[int, str],
) -> bytes | None:
    """The .ics an email carries, for confirmed registrants only: sessions to add or
    update (PUBLISH, with the join link) or to remove (CANCEL), in the registrant's
    language. Built once per batch for each set of sessions, language and personal
    links (most registrants have none: one file serves them all)."""
    locale = email.registration.language or "en"

    def calendar(sessions: list[ProgramSession], method: str, include_link: bool) -> bytes:
        own = tuple(sorted((k, v) for k, v in links.items() if include_link and any(s.id == k for s in sessions)))
        key = (method, include_link, locale, tuple((s.id, s.ics_sequence, s.cancelled_at) for s in sessions), own)
        if key not in cache:
            cache[key] = build_calendar(
                sessions, method=method, include_link=include_link, locale=locale, links=dict(own)
            )
        return cache[key]

    if email.kind in ("cancelled", "rejected") and email.registration.confirmed_at is not None:
        # They were sent the sessions once: take them out of their calendar.
        return calendar(program.sessions, "CANCEL", False)
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


def _certificate(email: Email) -> Certificate:
    certificate = certificate_of(email.registration_id) if email.registration_id else None
    if certificate is None:
        raise ValueError("the certificate this email carries no longer exists")
    return certificate


def _previous_when(email: Email, zone: str, locale: str) -> str:
    previous = (email.payload or {}).get("previous_starts_at")
    if not previous:
        return ""
    return format_in_zone(datetime.fromisoformat(previous), zone, locale, "long")


def build_message(email: Email, calendars: CalendarCache | None = None) -> OutboxMessage:
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
    links = personal_links(registration.id, program.sessions) if with_links else {}
    certificate = _certificate(email) if email.kind == "certificate" else None
    with force_locale(locale):
        session_view = None
        if session is not None:
            session_view = _session_view(
                session, program, zone, locale, with_links=with_links, personal_link=links.get(session.id, "")
            )
        context: dict[str, Any] = {
            "email": email,
            "registration": registration,
            "program": program,
            "text": program_text(program, locale),
            "session": session_view,
            "sessions": session_views(program, registration, with_links=with_links, links=links),
            "confirmed": confirmed,
            "manage_url": link,
            "program_url": external_url("public.program", slug=program.slug),
            "zone_label": zone_label(zone, locale),
            "text_dir": text_direction(locale),
            "program_zone_label": zone_label(program.timezone, locale),
            "previous_when": _previous_when(email, zone, locale),
            "previous_when_program": ""
            if zone == program.timezone
            else _previous_when(email, program.timezone, locale),
            "message_body": (
                messages.fill(_organiser_message(email).body, registration, program) if email.kind == "message" else ""
            ),
            "certificate": certificate,
            "certificate_code": format_code(certificate.code) if certificate else "",
            "verify_url": verify_url(certificate.code) if certificate else "",
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
    if certificate is not None:
        # Rendered now, from the snapshot: an email never leaves without its PDF (a
        # renderer that is unavailable raises CertificateNotRendered, and the row waits).
        message.attach(
            filename=pdf_filename(certificate), content_type="application/pdf", data=certificate_pdf(certificate)
        )
    ics = _calendar(email, program, session, confirmed, {} if calendars is None else calendars, links)
    if ics is not None:
        method = "CANCEL" if b"METHOD:CANCEL" in ics else "PUBLISH"
        message.attach(
            filename="invite.ics",
            content_type=f"text/calendar; charset=utf-8; method={method}",
            data=ics,
        )
    return message
