"""Attendee exports (CSV and XLSX): never failing whatever the database holds, formulas
neutralised in every cell and the header, and an XLSX file that reads well."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import text

from tests.conftest import program_data, registration_input
from tests.functional.helpers import sign_in
from webapp.extensions import db
from webapp.services.audit import Actor
from webapp.services.programs import import_program
from webapp.services.registrations import register_participant

QUESTIONS = [
    {"key": "plans", "label": "Your plans", "type": "long_text"},
    {"key": "topics", "label": "Topics", "type": "multiple_choice", "options": ["Cells", "Packs"]},
]


def _program(app: Flask, **overrides: object) -> int:
    with app.app_context():
        program, _ = import_program(program_data(questions=QUESTIONS, **overrides), actor=Actor.system())
        register_participant(
            program.id,
            registration_input(answers={"plans": "Build a plant", "topics": ["Cells"]}),
            actor=Actor.participant(),
        )
        return program.id


def _exports(client: FlaskClient, program_id: int) -> tuple[list[list[str]], bytes]:
    csv_response = client.get(f"/organiser/programs/{program_id}/attendees.csv")
    assert csv_response.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_response.get_data(as_text=True).lstrip("\ufeff"))))
    xlsx_response = client.get(f"/organiser/programs/{program_id}/attendees.xlsx")
    assert xlsx_response.status_code == 200
    return rows, xlsx_response.data


def test_exports_never_fail_on_control_characters_already_in_the_database(app: Flask) -> None:
    program_id = _program(app)
    dirty = "Line one\x0bline two\x01\x1b[31m\x7f end"
    with app.app_context():
        # Written straight to the table, as if stored before input was cleaned.
        db.session.execute(
            text("UPDATE registrations SET full_name = :name, organisation = :org, answers = CAST(:answers AS json)"),
            {"name": "Zoë\x0bÅlström", "org": "\x08Acme", "answers": json.dumps({"plans": dirty, "topics": ["\x0c"]})},
        )
        db.session.commit()
    client = sign_in(app, "boss@example.org", admin=True)
    rows, xlsx = _exports(client, program_id)
    assert rows[1][0] == "Zoë\x0bÅlström"  # CSV carries the text as it is
    sheet = load_workbook(io.BytesIO(xlsx)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][0] == "ZoëÅlström"
    assert values[1][3] == "Acme"
    assert values[1][13] == "Line oneline two[31m\x7f end"


@pytest.mark.parametrize("label", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_question_labels_in_the_header_are_neutralised(app: Flask, label: str) -> None:
    program_id = _program(app)
    with app.app_context():
        # Tab- and CR-prefixed labels cannot come through the import (it cleans them).
        questions = [{**QUESTIONS[0], "label": label}, QUESTIONS[1]]
        db.session.execute(
            text("UPDATE programs SET questions = CAST(:q AS json) WHERE id = :id"),
            {"q": json.dumps(questions), "id": program_id},
        )
        db.session.commit()
    client = sign_in(app, "boss@example.org", admin=True)
    rows, xlsx = _exports(client, program_id)
    assert rows[0][13] == "'" + label
    header = [cell.value for cell in next(load_workbook(io.BytesIO(xlsx)).active.iter_rows(max_row=1))]
    # The apostrophe leads; the rest is the label (XML reads a CR back as a LF).
    assert header[13][0] == "'" and header[13][2:] == label[1:]


def test_xlsx_has_real_dates_a_frozen_header_a_filter_and_widths(app: Flask) -> None:
    program_id = _program(app, timezone="Asia/Karachi")
    client = sign_in(app, "boss@example.org", admin=True)
    rows, xlsx = _exports(client, program_id)
    sheet = load_workbook(io.BytesIO(xlsx)).active
    header = [cell.value for cell in sheet[1]]
    assert header[6:9] == ["Registered (Asia/Karachi)", "Confirmed (Asia/Karachi)", "Attended (Asia/Karachi)"]
    registered = sheet.cell(row=2, column=7)
    assert isinstance(registered.value, datetime) and registered.is_date
    assert registered.value.strftime("%Y-%m-%d %H:%M") == rows[1][6]  # the same time as the CSV, in Karachi
    assert sheet.cell(row=2, column=9).value is None  # not attended: an empty cell
    assert sheet.freeze_panes == "A2"
    assert header[9:11] == ["Attendance", "Minutes attended"] and rows[1][9:11] == ["", "0"]
    assert sheet.auto_filter.ref == "A1:O2"
    assert sheet.column_dimensions["A"].width == 28 and sheet.column_dimensions["N"].width == 30
    assert sheet["A1"].font.bold
