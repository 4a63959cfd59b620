"""Per-program questions: defined in the program file or the editor, asked on the
public form, answered into the list, detail page and exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import program_data
from tests.functional.helpers import csrf_token, form_values, sign_in
from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.audit import Actor
from webapp.services.errors import ProgramImportError
from webapp.services.programs import import_program

QUESTIONS = [
    {
        "key": "sector",
        "label": "Your sector",
        "type": "single_choice",
        "required": True,
        "options": ["Grid", "Mobility"],
    },
    {"label": "Topics you want covered", "type": "multiple_choice", "options": ["Cells", "Packs", "Recycling"]},
    {"key": "plans", "label": "Your plans", "type": "long_text"},
    {"key": "certificate", "label": "I need a certificate", "type": "checkbox"},
    {"key": "factory_country", "label": "Where would your factory be?", "type": "country", "required": True},
]


def test_questions_are_validated_in_the_program_file(ctx: Flask) -> None:
    with pytest.raises(ProgramImportError) as excinfo:
        import_program(
            program_data(
                questions=[
                    {"label": "", "type": "essay"},
                    {"label": "Pick", "type": "single_choice", "options": ["only one"]},
                    {"key": "email", "label": "Email again"},
                ]
            ),
            actor=Actor.system(),
        )
    problems = excinfo.value.problems
    assert "questions[1].label: is required" in problems
    assert any(p.startswith("questions[1].type: must be one of") for p in problems)
    assert "questions[2].options: a choice needs at least two options" in problems
    assert "questions[3].key: 'email' is used twice" in problems
    program, _ = import_program(program_data(questions=QUESTIONS), actor=Actor.system())
    assert [q["key"] for q in program.questions] == [
        "sector",
        "topics_you_want_covered",
        "plans",
        "certificate",
        "factory_country",
    ]


def test_public_form_asks_validates_and_stores_answers(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(questions=QUESTIONS)
    client = app.test_client()
    page = client.get("/programs/li-ion-basics/register").get_data(as_text=True)
    assert "Your sector" in page and "Recycling" in page and "Where would your factory be?" in page
    data = form_values() | {"csrf_token": csrf_token(page)}
    missing = client.post("/programs/li-ion-basics/register", data=data).get_data(as_text=True)
    assert 'id="q_sector-error">Please answer this question.' in missing
    assert 'id="q_factory_country-error">Please answer this question.' in missing
    answered = data | {
        "q_sector": "Grid",
        "q_topics_you_want_covered": ["Cells", "Recycling"],
        "q_plans": "A 1 GWh line <b>in</b> Lahore",
        "q_certificate": "y",
        "q_factory_country": "PK",
    }
    assert client.post("/programs/li-ion-basics/register", data=answered).status_code == 303
    with app.app_context():
        answers = db.session.scalar(select(Registration.answers))
    assert answers == {
        "sector": "Grid",
        "topics_you_want_covered": ["Cells", "Recycling"],
        "plans": "A 1 GWh line <b>in</b> Lahore",
        "certificate": True,
        "factory_country": "PK",
    }

    organiser = sign_in(app, "boss@example.org", admin=True)
    listing = organiser.get(f"/organiser/programs/{program_id}/attendees").get_data(as_text=True)
    assert "Your sector" in listing and "Cells, Recycling" in listing and "&lt;b&gt;in&lt;/b&gt;" in listing
    rows = list(
        csv.reader(
            io.StringIO(
                organiser.get(f"/organiser/programs/{program_id}/attendees.csv").get_data(as_text=True).lstrip("\ufeff")
            )
        )
    )
    assert rows[0][-5:] == [q["label"] for q in QUESTIONS]
    assert rows[1][-5:] == ["Grid", "Cells; Recycling", "A 1 GWh line <b>in</b> Lahore", "yes", "PK"]


def test_editor_adds_a_question(app: Flask, make_program: Callable[..., int]) -> None:
    import re

    program_id = make_program()
    client = sign_in(app, "boss@example.org", admin=True)
    url = f"/organiser/programs/{program_id}/edit"
    page = client.get(url).get_data(as_text=True)
    fields = {k: v for k, v in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page) if v}
    # Only what a person would send: no unticked boxes, no unpressed buttons.
    fields = {
        k: v
        for k, v in fields.items()
        if k not in ("add_session", "add_question", "save", "waitlist") and not k.endswith("-remove")
    }
    fields |= {"timezone": "Asia/Karachi", "description": "x", "add_question": "1"}
    grown = client.post(url, data=fields).get_data(as_text=True)
    assert "Question 1" in grown, re.sub(r"<[^>]+>", "", grown)[-1500:]
    fields.pop("add_question")
    fields |= {
        "questions-0-text": "Company size",
        "questions-0-kind": "single_choice",
        "questions-0-options": "1-10\n11-100",
        "save": "1",
    }
    saved = client.post(url, data=fields)
    assert saved.status_code == 303, re.findall(
        r'(?:id="[^"]+-error"|flash-error"[^>]*)>([^<]+)', saved.get_data(as_text=True)
    )
    with app.app_context():
        program = db.session.get(Program, program_id)
        assert program.questions == [
            {
                "key": "company_size",
                "label": "Company size",
                "type": "single_choice",
                "required": False,
                "options": ["1-10", "11-100"],
            }
        ]


def test_editor_moves_a_question_up(app: Flask, make_program: Callable[..., int]) -> None:
    program_id = make_program(questions=QUESTIONS[:3])
    client = sign_in(app, "boss@example.org", admin=True)
    url = f"/organiser/programs/{program_id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert page.index("Your sector") < page.index("Your plans")
    import re

    fields = {k: v for k, v in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page) if v}
    fields = {k: v for k, v in fields.items() if not k.endswith("-remove") and k not in ("waitlist",)}
    fields |= {"timezone": "Asia/Karachi", "description": "x", "move_question_up": "2"}
    fields |= {f"questions-{i}-text": q["label"] for i, q in enumerate(QUESTIONS[:3])}
    fields |= {f"questions-{i}-kind": q["type"] for i, q in enumerate(QUESTIONS[:3])}
    fields |= {"questions-0-options": "Grid\nMobility", "questions-1-options": "Cells\nPacks\nRecycling"}
    moved = client.post(url, data=fields).get_data(as_text=True)
    assert moved.index("Your plans") < moved.index("Topics you want covered")
