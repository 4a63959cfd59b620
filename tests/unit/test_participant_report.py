"""Reading Zoom's participant report (CSV): what Zoom writes, what spreadsheets make of
it, and hostile files, each refused with a reason (the console puts it in words)."""

from __future__ import annotations

import codecs

import pytest

from webapp.services.attendance import (
    MAX_REPORT_BYTES,
    Participant,
    parse_participant_report,
)
from webapp.services.errors import ParticipantReportError

HEADER = "Name (original name),User email,Join time,Leave time,Duration (minutes),Guest,In waiting room\r\n"
ROWS = (
    "Ayesha Khan,Ayesha@Example.com ,09/28/2030 02:00:05 PM,09/28/2030 02:50:10 PM,51,No,No\r\n"
    "Ayesha Khan,ayesha@example.com,09/28/2030 03:01:00 PM,09/28/2030 03:40:00 PM,39,No,No\r\n"
    "Guest without address,,09/28/2030 02:00:00 PM,09/28/2030 02:10:00 PM,10,Yes,No\r\n"
    "Ли Вэй (李伟),li@example.cn,09/28/2030 02:00:00 PM,09/28/2030 03:30:00 PM,90,No,No\r\n"
)


def _refused(raw: bytes) -> ParticipantReportError:
    with pytest.raises(ParticipantReportError) as excinfo:
        parse_participant_report(raw)
    return excinfo.value


def test_zoom_s_export_with_its_byte_order_mark_and_summary_above() -> None:
    summary = (
        "Meeting ID,Topic,Start time,End time,Duration (minutes),Participants\r\n812 3456 7890,Cells,x,y,120,3\r\n\r\n"
    )
    raw = codecs.BOM_UTF8 + (summary + HEADER + ROWS).encode("utf-8")
    assert parse_participant_report(raw) == [
        Participant(minutes=51, email="ayesha@example.com"),
        Participant(minutes=39, email="ayesha@example.com"),
        Participant(minutes=90, email="li@example.cn"),
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_a_report_re_saved_by_a_spreadsheet_reads_the_same(encoding: str) -> None:
    text = HEADER.replace(",", ";") + "Zoë Brontë;zoe@example.org;x;y;45;No;No\r\n"
    assert parse_participant_report(text.encode(encoding)) == [Participant(minutes=45, email="zoe@example.org")]


def test_fractional_minutes_and_a_registrant_id_column() -> None:
    raw = b"Name,Email,Registrant ID,Duration (Minutes)\nA,a@example.org,rid-1,44.6\n"
    assert parse_participant_report(raw) == [Participant(minutes=45, email="a@example.org", registrant_id="rid-1")]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_text"),
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "not_text"),
        (b"name,colour\nA,blue\n", "no_columns"),
        (("x\n" * 25 + HEADER).encode(), "no_columns"),  # a header past the summary's rows
        (HEADER.encode() + b"A,a@example.org,x,y,soon,No,No\n", "bad_minutes"),
        (HEADER.encode() + b"A,a@example.org,x,y,-5,No,No\n", "bad_minutes"),
        (HEADER.encode() + b"A,a@example.org,x,y,nan,No,No\n", "bad_minutes"),
        (HEADER.encode() + b"A,a@example.org,x,y,1e300,No,No\n", "bad_minutes"),
        (HEADER.encode() + b'A,"a@example.org,x,y,' + b"z" * 200_000 + b"\n", "not_text"),
        (b"x" * (MAX_REPORT_BYTES + 1), "too_large"),
        (HEADER.encode() + b"A,a@example.org,x,y,1,No,No\n" * 50_001, "too_large"),
    ],
)
def test_hostile_files_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    assert _refused(raw).reason == reason


def test_too_many_rows_within_the_size_limit() -> None:
    raw = HEADER.encode() + b"A,a@x.io,,,1\n" * 50_001
    assert len(raw) <= MAX_REPORT_BYTES
    assert _refused(raw).reason == "too_many_rows"


def test_a_bad_duration_names_its_line() -> None:
    error = _refused(HEADER.encode() + ROWS.encode() + b"B,b@example.org,x,y,ten,No,No\n")
    assert (error.reason, error.line) == ("bad_minutes", 6)
