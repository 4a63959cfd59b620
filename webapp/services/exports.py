"""Exports of the attendee list (the current filter) as CSV and XLSX, streamed.

Rows come from a server-side cursor in chunks, so memory stays flat however many
registrants there are. Every cell that a spreadsheet would read as a formula (starting
with = + - @, a tab or a carriage return) is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from openpyxl import Workbook

from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.attendees import AttendeeQuery, matching
from webapp.services.times import format_in_zone

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 1000


def neutralise(value: Any) -> str:
    """Text a spreadsheet shows as text, never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _questions(program: Program) -> list[tuple[str, str]]:
    return [(q.get("key", ""), q.get("label", q.get("key", ""))) for q in (program.questions or []) if q.get("key")]


def header(program: Program) -> list[str]:
    return [
        "Name",
        "Email",
        "Country",
        "Organisation",
        "Job title",
        "Status",
        f"Registered ({program.timezone})",
        f"Confirmed ({program.timezone})",
        f"Attended ({program.timezone})",
        "Language",
        "Time zone",
        *[label for _, label in _questions(program)],
    ]


def rows(program: Program, query: AttendeeQuery) -> Iterator[list[str]]:
    """The header, then one list of cells per matching registration, neutralised."""
    yield header(program)
    questions = _questions(program)
    zone = program.timezone

    def when(value: Any) -> str:
        return format_in_zone(value, zone, "en", "yyyy-MM-dd HH:mm") if value else ""

    statement = matching(program, query).execution_options(yield_per=CHUNK)
    for registration in db.session.scalars(statement):
        r: Registration = registration
        answers = r.answers or {}
        cells = [
            r.full_name,
            r.email,
            r.country,
            r.organisation,
            r.job_title,
            r.status,
            when(r.created_at),
            when(r.confirmed_at),
            when(r.attended_at),
            r.language,
            r.timezone,
            *[_answer(answers.get(key)) for key, _ in questions],
        ]
        yield [neutralise(c) for c in cells]


def _answer(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def csv_chunks(program: Program, query: AttendeeQuery) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so Excel reads non-Latin names), in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    for count, row in enumerate(rows(program, query), start=1):
        writer.writerow(row)
        if count % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def xlsx_file(program: Program, query: AttendeeQuery) -> IO[bytes]:
    """An XLSX workbook in a temporary file (openpyxl's write-only mode streams rows to
    disk), rewound for reading. The caller streams it out and closes it."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Attendees")
    for row in rows(program, query):
        sheet.append(row)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the caller streams it, then closes it)
    workbook.save(handle)
    handle.seek(0)
    return handle


def file_chunks(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()
