"""Messages to a segment of a program's registrants: who receives them, placeholders,
a preview for one real recipient, sending through the outbox, delivery progress."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, func, select

from webapp.extensions import db
from webapp.models import Email, Message, Organiser, Program, Registration, utcnow
from webapp.services import audit
from webapp.services.attendance import attended_condition
from webapp.services.audit import Actor
from webapp.services.links import manage_url
from webapp.services.outbox import queue_bulk
from webapp.services.programs.localized import program_text
from webapp.services.text import single_line
from webapp.services.transactions import unit_of_work
from webapp.services.zoom.registrants import personal_links

SEGMENTS: dict[str, Any] = {
    "confirmed": _l("Confirmed"),
    "waitlisted": _l("On the waiting list"),
    "pending": _l("Awaiting approval"),
    "active": _l("Everyone still registered (confirmed, waiting, pending)"),
    "attended": _l("Confirmed and attended"),
    "not_attended": _l("Confirmed and did not attend"),
}
PLACEHOLDERS = ("name", "program", "manage_url", "join_url")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class UnknownPlaceholder(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def _segment(program: Program, segment: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Registration.program_id == program.id]
    if segment in ("confirmed", "waitlisted", "pending"):
        where.append(Registration.status == segment)
    elif segment == "active":
        where.append(Registration.status.in_(("confirmed", "waitlisted", "pending")))
    elif segment == "attended":
        where += [Registration.status == "confirmed", attended_condition(program)]
    elif segment == "not_attended":
        where += [Registration.status == "confirmed", ~attended_condition(program)]
    else:
        raise ValueError(f"unknown segment {segment!r}")
    return where


def recipients(program: Program, segment: str) -> Select[tuple[int, str]]:
    return select(Registration.id, Registration.email).where(*_segment(program, segment)).order_by(Registration.id)


def count_recipients(program: Program, segment: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Registration).where(*_segment(program, segment))) or 0


def check_placeholders(*texts: str) -> None:
    unknown = sorted({name for text in texts for name in _PLACEHOLDER.findall(text)} - set(PLACEHOLDERS))
    if unknown:
        raise UnknownPlaceholder(unknown)


def fill(text: str, registration: Registration, program: Program) -> str:
    """Replace {name}, {program}, {manage_url} and {join_url} for one recipient.
    {join_url} is the next session's link for confirmed registrants only (Rule 5);
    for anyone else it becomes an explanation instead."""
    join = ""
    if registration.status == "confirmed" and program.status != "cancelled":
        upcoming = [s for s in program.sessions if s.ends_at > utcnow()] or program.sessions
        if upcoming:
            join = personal_links(registration.id, upcoming[:1]).get(upcoming[0].id) or upcoming[0].join_url
    values = {
        "name": registration.full_name,
        "program": program_text(program, registration.language or "en").title.text,
        "manage_url": manage_url(registration.token),
        "join_url": join or str(_l("(the link to join is sent to confirmed participants)")),
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


@dataclass
class Preview:
    recipient: Registration | None
    subject: str
    body: str
    count: int


def preview(program: Program, segment: str, subject: str, body: str) -> Preview:
    """The message as its first recipient would read it, and how many would get it."""
    check_placeholders(subject, body)
    first_id = db.session.scalar(recipients(program, segment).with_only_columns(Registration.id).limit(1))
    registration = db.session.get(Registration, first_id) if first_id else None
    if registration is None:
        return Preview(None, subject, body, 0)
    return Preview(
        registration,
        single_line(fill(subject, registration, program), 250),
        fill(body, registration, program),
        count_recipients(program, segment),
    )


def send_message(program: Program, segment: str, subject: str, body: str, *, organiser: Organiser) -> Message:
    """Write the message and one outbox row per recipient in one transaction, then
    enqueue them. Placeholders are filled when each email is built."""
    check_placeholders(subject, body)
    message = Message(
        program_id=program.id,
        organiser_id=organiser.id,
        segment=segment,
        subject=single_line(subject, 250),
        body=body.replace("\r\n", "\n"),
    )
    with unit_of_work():
        db.session.add(message)
        db.session.flush()
        ids = queue_bulk(
            "message",
            recipients(program, segment),
            dedupe_key=lambda rid: f"message:{message.id}:{rid}",
            payload={"message_id": message.id},
        )
        message.recipients = len(ids)
        audit.record(Actor.organiser(organiser.id), "message.sent", program=program, message_id=message.id)
    return message


def progress(message: Message) -> dict[str, int]:
    """Counts of its emails by status: pending (incl. sending), sent, failed, expired."""
    rows = db.session.execute(
        select(Email.status, func.count())
        .where(Email.kind == "message", Email.dedupe_key.like(f"message:{message.id}:%"))
        .group_by(Email.status)
    ).tuples()
    counts = {"pending": 0, "sent": 0, "failed": 0, "expired": 0}
    for status, count in rows:
        counts["pending" if status == "sending" else status] += count
    counts["total"] = message.recipients
    return counts


def messages_of(program: Program) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.program_id == program.id).order_by(Message.id.desc())))
