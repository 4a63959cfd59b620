"""Exports of the attendee list (the current filter) as CSV and XLSX, streamed.

Rows come from a server-side cursor in chunks, so memory stays flat however many
registrants there are. Every text cell, the header's included, that a spreadsheet would
read as a formula (starting with = + - @, a tab or a carriage return) is neutralised
with a leading apostrophe. Whatever the database holds, an export never fails: text an
XLSX file cannot carry (control characters, lone surrogates) is dropped from the cell.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.attendance import attended_condition, minutes_attended
from webapp.services.attendees import AttendeeQuery, matching

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 1000
# XML 1.0 (the inside of an XLSX file) has no place for these; openpyxl refuses them.
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
XLSX_CELL_LIMIT = 32767  # characters Excel keeps in one cell
DATE_FORMAT = "yyyy-mm-dd hh:mm"


def neutralise(value: Any) -> str:
    """Text a spreadsheet shows as text, never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


# The standard columns: title and width (in characters) in the XLSX file.
_COLUMNS = (
    ("Name", 28),
    ("Email", 32),
    ("Country", 9),
    ("Organisation", 28),
    ("Job title", 22),
    ("Status", 12),
    ("Registered", 18),
    ("Confirmed", 18),
    ("Attended", 18),
    # Attendance by the one rule (`attendance.attended_condition`): "manual" (an
    # organiser's mark), "yes" (minutes from Zoom reached the threshold), or empty.
    ("Attendance", 12),
    ("Minutes attended", 10),
    ("Language", 10),
    ("Time zone", 20),
)
_DATE_COLUMNS = ("Registered", "Confirmed", "Attended")
_QUESTION_WIDTH = 30


def _questions(program: Program) -> list[tuple[str, str]]:
    return [(q.get("key", ""), q.get("label", q.get("key", ""))) for q in (program.questions or []) if q.get("key")]


def header(program: Program) -> list[str]:
    """Column titles, neutralised (question labels are the organiser's text); the date
    columns name the zone their times are in: the program's."""
    titles = [f"{t} ({program.timezone})" if t in _DATE_COLUMNS else t for t, _ in _COLUMNS]
    return [neutralise(t) for t in [*titles, *(label for _, label in _questions(program))]]


def records(program: Program, query: AttendeeQuery) -> Iterator[list[Any]]:
    """One list of raw cells per matching registration: text, or a datetime in the
    program's zone (without tzinfo, as spreadsheets have none)."""
    questions = _questions(program)
    zone = ZoneInfo(program.timezone)

    def when(value: datetime | None) -> datetime | None:
        return value.astimezone(zone).replace(tzinfo=None, microsecond=0) if value else None

    statement = (
        matching(program, query)
        .add_columns(attended_condition(program).label("attended"), minutes_attended(program).label("minutes"))
        .execution_options(yield_per=CHUNK)
    )
    for row in db.session.execute(statement):
        r: Registration = row[0]
        answers = r.answers if isinstance(r.answers, dict) else {}
        yield [
            r.full_name,
            r.email,
            r.country,
            r.organisation,
            r.job_title,
            r.status,
            when(r.created_at),
            when(r.confirmed_at),
            when(r.attended_at),
            "manual" if r.attended_at else ("yes" if row.attended else ""),
            str(row.minutes or 0),
            r.language,
            r.timezone,
            *[_answer(answers.get(key)) for key, _ in questions],
        ]


def rows(program: Program, query: AttendeeQuery) -> Iterator[list[str]]:
    """The header, then one list of text cells per matching registration, neutralised
    (times as "2026-09-28 14:00" in the program's zone)."""
    yield header(program)
    for cells in records(program, query):
        yield [c.strftime("%Y-%m-%d %H:%M") if isinstance(c, datetime) else neutralise(c) for c in cells]


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
            yield buffer.getvalue().encode(errors="replace")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode(errors="replace")


def _xlsx_text(value: Any) -> str:
    return neutralise(_NOT_IN_XML.sub("", "" if value is None else str(value)))[:XLSX_CELL_LIMIT]


def xlsx_file(program: Program, query: AttendeeQuery) -> IO[bytes]:
    """An XLSX workbook in a temporary file (openpyxl's write-only mode streams rows to
    disk), rewound for reading. The caller streams it out and closes it. Times are real
    date cells in the program's zone; the header row is bold, frozen and filterable."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="Attendees")
    titles = header(program)
    # Write-only sheets write widths and panes before the first row: set them first.
    for index in range(1, len(titles) + 1):
        width = _COLUMNS[index - 1][1] if index <= len(_COLUMNS) else _QUESTION_WIDTH
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for title in titles:
        cell = WriteOnlyCell(sheet, value=_xlsx_text(title))
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    count = 1
    for cells in records(program, query):
        row: list[Any] = []
        for value in cells:
            if isinstance(value, datetime):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = DATE_FORMAT
                row.append(cell)
            else:
                row.append(_xlsx_text(value))
        sheet.append(row)
        count += 1
    # The filter's range is written after the rows, so it can cover all of them.
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(titles))}{count}"
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
