"""The attendee search on PostgreSQL: the trigram index of migration 0012 serves the
query as `attendees.conditions` writes it, and answers exactly what reading every row
answers (the index only proposes candidates; PostgreSQL rechecks each one), which is
what the organiser typed, in any case, within one name, address or organisation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert, select, text

from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.attendees import AttendeeQuery, conditions, list_attendees, matching

FIRST = ["Amir", "Ayesha", "Zhang", "张", "محمد", "زهرا", "Пётр", "ЁЛКА", "Çağla", "İsmail", "Ana 100%", "Bob_by"]
LAST = ["Khan", "Wei", "伟明", "رضایی", "Иванов", "Öztürk", "KHAN-Yılmaz", "O'Brien", "Back\\slash", "Straße"]
ORGANISATIONS = [
    "Lahore Battery Works",
    "CATL",
    "宁德时代",
    "دانشگاه تهران",
    "ООО Энергия",
    "ASELSAN",
    "50% Off_Co",
    "",
]
DOMAINS = ["example.org", "Example42.ORG", "example.cn", "mail.ir", "почта.рф", "under_score.tr"]

QUERIES = [
    "khan",
    "KHAN",
    "Khan-Y",
    "example42.org",
    "EXAMPLE.ORG",
    "@example.cn",
    "battery works",
    "иванов",
    "ЁЛК",
    "пётр",
    "ÇAĞLA",
    "öztürk",
    "ismail",
    "straße",
    "رضایی",
    "دانشگاه",
    "宁德时代",
    "伟明",
    "张",
    "%",
    "0%",
    "100% k",
    "_",
    "b_by",
    "\\",
    "k\\sl",
    "'",
    "o'b",
    "ha",
    "x",
    "nobody at all",
]


def _people(program_id: int, count: int) -> list[dict[str, Any]]:
    """`count` registrants of `program_id`: every name, organisation and domain above."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    rows = []
    names = itertools.cycle(itertools.product(FIRST, LAST))
    for i in range(count):
        first, last = next(names)
        rows.append(
            {
                "program_id": program_id,
                "email": f"p{i}@{DOMAINS[i % len(DOMAINS)]}",
                "email_normalized": f"p{i}@{DOMAINS[i % len(DOMAINS)]}".lower(),
                "full_name": f"{first} {last}",
                "country": "PK",
                "organisation": ORGANISATIONS[i % len(ORGANISATIONS)],
                "language": "en",
                "timezone": "UTC",
                "answers": {},
                "status": ["confirmed", "waitlisted", "cancelled", "pending"][i % 4],
                "token": f"t{program_id}-{i:040d}",
                "token_selector": f"s{program_id}-{i:013d}",
                "created_at": now + timedelta(minutes=i % 37),
                "updated_at": now,
                "status_changed_at": now,
            }
        )
    return rows


@pytest.fixture
def program(ctx: Flask, make_program: Callable[..., int]) -> Program:
    """A program of 600 registrants, and another of 600 the searches must never show."""
    ids = [make_program(), make_program(slug="other")]
    for program_id in ids:
        db.session.execute(insert(Registration), _people(program_id, 600))
    db.session.commit()
    db.session.execute(text("ANALYZE registrations"))
    db.session.commit()
    return db.session.get_one(Program, ids[0])


def _plan(statement: Any) -> str:
    compiled = statement.compile(dialect=db.engine.dialect)
    rows = db.session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars()
    return "\n".join(rows)


def _search(program: Program, q: str) -> Any:
    """The search's own clause of `conditions`, without the program (whose B-tree
    indexes PostgreSQL would rather read in a table this small)."""
    where = conditions(program, AttendeeQuery(q=q))
    assert len(where) == 2 and where[0].compare(Registration.program_id == program.id)
    return select(Registration.id).where(where[1]).order_by(Registration.id)


def _answers(program: Program, *, index: bool) -> dict[str, list[int]]:
    """Who each query finds, read through the trigram index only (`index`) or by
    reading every row."""
    db.session.execute(text("SET LOCAL enable_indexscan = off"))
    db.session.execute(text(f"SET LOCAL enable_seqscan = {'off' if index else 'on'}"))
    db.session.execute(text(f"SET LOCAL enable_bitmapscan = {'on' if index else 'off'}"))
    answers = {}
    for q in QUERIES:
        answers[q] = list(db.session.scalars(_search(program, q)))
        plan = _plan(_search(program, q))
        if index and len(q.strip()) >= 3:
            assert "_trgm" in plan, (q, plan)
        if not index:
            assert "_trgm" not in plan, (q, plan)
    db.session.rollback()
    return answers


def test_the_index_answers_what_reading_every_row_answers(program: Program) -> None:
    by_index = _answers(program, index=True)
    by_scan = _answers(program, index=False)
    assert by_index == by_scan
    # Most searches find someone (in both programs), and the nonsense one nobody.
    assert [q for q, ids in by_scan.items() if not ids] == ["nobody at all"]
    assert by_scan["nobody at all"] == []


def test_a_search_shows_its_program_only(program: Program) -> None:
    page = list_attendees(program, AttendeeQuery(q="khan", per_page=500))
    assert page.total == sum(page.counts.values()) > 0
    assert {r.program_id for r in page.items} == {program.id}
    assert len(page.items) == page.total
    assert all("khan" in r.full_name.lower() for r in page.items)


def test_the_newest_first_page_reads_the_created_at_index(program: Program) -> None:
    """No NULLS LAST in the order (every sort column is NOT NULL): PostgreSQL walks
    (program_id, created_at) backwards and stops after a page, rather than sorting all."""
    plan = _plan(matching(program, AttendeeQuery()).limit(50))
    assert "Index Scan Backward using ix_registrations_program_id_created_at" in plan


def test_a_search_matches_any_part_of_a_name_address_or_organisation_in_any_case(program: Program) -> None:
    """What an organiser expects, worked out here in Python: the text, in any case and
    any script, anywhere in one of the three (never across two); % _ \\ are literal."""
    people = db.session.execute(
        select(Registration.id, Registration.full_name, Registration.email_normalized, Registration.organisation).where(
            Registration.program_id == program.id
        )
    ).all()

    def fold(text: str) -> str:
        # As PostgreSQL lowers: İ is i (Python writes i and a combining dot), so
        # "ismail" finds "İsmail" as a Turkish reader expects.
        return text.lower().replace("i\u0307", "i")

    for q in [*QUERIES, "khan\np", "works p", "  khan  "]:
        needle = fold(" ".join(q.split()))
        expected = sorted(p.id for p in people if any(needle in fold(f) for f in p[1:]))
        found = list(db.session.scalars(_search(program, q).where(Registration.program_id == program.id)))
        assert found == expected, q


def test_the_embedded_default_searches_the_same_way(make_sqlite_app: Callable[..., Flask]) -> None:
    """SQLite (`make run`) computes `search_text` when read and scans: the same people,
    in every script (`database._lower` stands in for SQLite's ASCII-only lower())."""
    from tests.conftest import program_data
    from webapp.services.audit import Actor
    from webapp.services.programs import import_program

    with make_sqlite_app().app_context():
        program, _ = import_program(program_data(), actor=Actor.system())
        db.session.execute(insert(Registration), _people(program.id, 120))
        db.session.commit()
        people = db.session.execute(
            select(Registration.id, Registration.full_name, Registration.email_normalized, Registration.organisation)
        ).all()
        queries = ["khan", "KHAN", "Khan-Y", "example42.org", "battery works", "0%", "b_by", "k\\sl", "o'b", "khan p"]
        for q in [*queries, "ПОЧТА", "ÖZTÜRK", "иванов", "ЁЛК", "دانشگاه", "伟明"]:
            needle = q.lower()
            expected = sorted(p.id for p in people if any(needle in f.lower() for f in p[1:]))
            assert expected or q == "khan p", q  # across two fields: nobody
            assert list(db.session.scalars(_search(program, q))) == expected, q
            page = list_attendees(program, AttendeeQuery(q=q, per_page=500))
            assert sorted(r.id for r in page.items) == expected and page.total == len(expected), q
