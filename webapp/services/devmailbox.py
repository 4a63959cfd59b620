"""The local mailbox of the embedded default: what the local SMTP server received.

`make run` starts an SMTP server (aiosmtpd) that stores every message in a Maildir under
instance/; these functions read it for the /dev/mailbox pages.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass
class Attachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass
class MailboxMessage:
    key: str
    subject: str
    sender: str
    to: str
    date: datetime | None
    message_id: str
    text: str = ""
    html: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def ensure_maildir(folder: str | Path) -> None:
    """Create the Maildir layout (Maildir(create=True) skips it if the folder exists)."""
    for sub in ("cur", "new", "tmp"):
        (Path(folder) / sub).mkdir(parents=True, exist_ok=True)


def _open(folder: str) -> mailbox.Maildir:
    ensure_maildir(folder)
    return mailbox.Maildir(folder, factory=None, create=True)


def _parse(key: str, raw: bytes, full: bool) -> MailboxMessage:
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    try:
        date = parsedate_to_datetime(msg["Date"]) if msg["Date"] else None
    except (TypeError, ValueError):
        date = None
    result = MailboxMessage(
        key=key,
        subject=str(msg["Subject"] or ""),
        sender=str(msg["From"] or ""),
        to=str(msg["To"] or ""),
        date=date,
        message_id=str(msg["Message-ID"] or ""),
    )
    if not full:
        return result
    result.headers = [(k, str(v)) for k, v in msg.items()]
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    result.text = text_part.get_content() if text_part is not None else ""
    result.html = html_part.get_content() if html_part is not None else ""
    for index, part in enumerate(msg.iter_attachments()):
        payload = part.get_payload(decode=True) or b""
        result.attachments.append(
            Attachment(index, part.get_filename() or f"attachment-{index}", part.get_content_type(), len(payload))
        )
    return result


def list_messages(folder: str, limit: int = 200) -> list[MailboxMessage]:
    """Newest first."""
    box = _open(folder)
    keys = list(box.keys())  # iterating a Maildir yields messages, not keys
    messages = [_parse(key, box.get_bytes(key), full=False) for key in keys]
    messages.sort(key=lambda m: (m.date.timestamp() if m.date else 0, m.key), reverse=True)
    return messages[:limit]


def get_message(folder: str, key: str) -> MailboxMessage | None:
    box = _open(folder)
    try:
        raw = box.get_bytes(key)
    except KeyError:
        return None
    return _parse(key, raw, full=True)


def get_attachment(folder: str, key: str, index: int) -> tuple[str, str, bytes] | None:
    """(filename, content type, bytes) of one attachment."""
    box = _open(folder)
    try:
        raw = box.get_bytes(key)
    except KeyError:
        return None
    msg: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    for i, part in enumerate(msg.iter_attachments()):
        if i == index:
            return (part.get_filename() or f"attachment-{i}", part.get_content_type(), part.get_payload(decode=True))
    return None


def clear(folder: str) -> int:
    box = _open(folder)
    keys = list(box.keys())
    for key in keys:
        box.discard(key)
    return len(keys)
