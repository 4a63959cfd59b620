"""`programs.confirmed_count` is kept by database triggers (migration 0005). Whatever
changes a registration (the public form, every organiser action, promotion, raw SQL,
deleting rows or a whole program), the counter equals a real count, on PostgreSQL and
on SQLite."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select, text, update

from tests.conftest import program_data, registration_input
from webapp.extensions import db
from webapp.models import Program, Registration
from webapp.services.audit import Actor
from webapp.services.programs import import_program
from webapp.services.registrations import (
    add_registrant,
    apply_action,
    cancel_registration,
    count_confirmed,
    register_participant,
)

PARTICIPANT = Actor.participant()
SYSTEM = Actor.system()


def _real_count(program_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(Registration.program_id == program_id, Registration.status == "confirmed")
    )


def _assert_counter(program_id: int, expected: int) -> None:
    db.session.expire_all()
    assert _real_count(program_id) == expected
    assert count_confirmed(program_id) == expected


def _ids(program_id: int, status: str) -> list[int]:
    return list(
        db.session.scalars(
            select(Registration.id)
            .where(Registration.program_id == program_id, Registration.status == status)
            .order_by(Registration.id)
        )
    )


def _every_kind_of_change() -> None:
    program, _ = import_program(program_data(capacity=3, waitlist=True), actor=SYSTEM)
    other, _ = import_program(program_data(slug="other-course", capacity=None), actor=SYSTEM)
    pid = program.id
    for n in range(5):
        register_participant(pid, registration_input(email=f"p{n}@example.com"), actor=PARTICIPANT)
    _assert_counter(pid, 3)  # three confirmed, two waitlisted

    cancel_registration(_ids(pid, "confirmed")[0], actor=PARTICIPANT)
    _assert_counter(pid, 3)  # the freed seat went to the first on the waitlist

    apply_action(pid, _ids(pid, "confirmed")[:2], "reject", actor=SYSTEM)
    _assert_counter(pid, 2)  # two rejected, the last waitlisted promoted

    register_participant(pid, registration_input(email="p0@example.com"), actor=PARTICIPANT)
    _assert_counter(pid, 3)  # a cancelled registrant came back into the free seat

    add_registrant(pid, registration_input(email="vip@example.com"), actor=SYSTEM, beyond_capacity=True)
    _assert_counter(pid, 4)

    # Raw SQL, outside every service: moving a confirmed registration to another
    # program, and deleting one.
    moved = _ids(pid, "confirmed")[0]
    db.session.execute(update(Registration).where(Registration.id == moved).values(program_id=other.id))
    db.session.commit()
    _assert_counter(pid, 3)
    _assert_counter(other.id, 1)
    db.session.execute(text("DELETE FROM registrations WHERE id = :id"), {"id": _ids(pid, "confirmed")[0]})
    db.session.commit()
    _assert_counter(pid, 2)

    # A status write that changes nothing leaves the counter alone.
    db.session.execute(update(Registration).where(Registration.program_id == pid).values(status=Registration.status))
    db.session.commit()
    _assert_counter(pid, 2)

    # Deleting a program deletes its registrations (and their triggers find no program).
    db.session.execute(text("DELETE FROM programs WHERE id = :id"), {"id": other.id})
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Program).where(Program.id == other.id)) == 0
    _assert_counter(pid, 2)


def test_counter_follows_every_change_on_postgresql(ctx: Flask) -> None:
    _every_kind_of_change()


def test_counter_follows_every_change_on_sqlite(make_sqlite_app: Callable[..., Flask]) -> None:
    with make_sqlite_app().app_context():
        _every_kind_of_change()


def test_truncate_resets_the_counter_on_postgresql(ctx: Flask) -> None:
    program, _ = import_program(program_data(capacity=10), actor=SYSTEM)
    register_participant(program.id, registration_input(), actor=PARTICIPANT)
    _assert_counter(program.id, 1)
    db.session.execute(text("TRUNCATE registrations CASCADE"))
    db.session.commit()
    _assert_counter(program.id, 0)


@pytest.mark.parametrize("status", ["confirmed", "waitlisted"])
def test_migration_backfills_existing_registrations(ctx: Flask, status: str) -> None:
    """The counter column was added to databases that already had registrations."""
    from webapp.services.programs import get_program

    program, _ = import_program(program_data(capacity=10), actor=SYSTEM)
    register_participant(program.id, registration_input(), actor=PARTICIPANT)
    db.session.execute(update(Registration).values(status=status))
    db.session.commit()
    db.session.execute(text("UPDATE programs SET confirmed_count = 7"))  # wrong either way
    migration = importlib.import_module("migrations.versions.0005_confirmed_seat_counter")
    db.session.execute(text(migration.BACKFILL))
    db.session.commit()
    db.session.expire_all()
    assert get_program(program.id).confirmed_count == (1 if status == "confirmed" else 0)
