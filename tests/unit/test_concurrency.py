"""Capacity under concurrent submissions: separate connections, real commits.

The guard is the program row lock (PostgreSQL) or the immediate write transaction
(SQLite). `REGISTRATION_CAPACITY_LOCK=False` removes the PostgreSQL guard, and the same
test then overbooks: proof that the test can fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from sqlalchemy import func, select

from tests.conftest import program_data, registration_input
from webapp.extensions import db
from webapp.models import Email, Registration
from webapp.services.audit import Actor
from webapp.services.programs import import_program
from webapp.services.registrations import register_participant

CLIENTS = 50
CAPACITY = 10


def _rush(app: Flask, clients: int = CLIENTS) -> dict[str, int]:
    with app.app_context():
        program, _ = import_program(program_data(capacity=CAPACITY, waitlist=True), actor=Actor.system())
        program_id = program.id
    barrier = threading.Barrier(clients)

    def one(i: int) -> str:
        with app.app_context():
            barrier.wait()
            outcome = register_participant(
                program_id, registration_input(email=f"rush{i}@example.com"), actor=Actor.participant()
            )
            db.session.remove()
            return outcome.status

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(clients)))
    with app.app_context():
        rows = db.session.execute(select(Registration.status, func.count()).group_by(Registration.status))
        counts: dict[str, int] = dict(rows.tuples().all())
        counts["emails"] = db.session.scalar(select(func.count()).select_from(Email))
        return counts


def test_postgresql_never_overbooks(app: Flask) -> None:
    counts = _rush(app)
    assert counts == {"confirmed": CAPACITY, "waitlisted": CLIENTS - CAPACITY, "emails": CLIENTS}


def test_postgresql_overbooks_without_the_guard(app: Flask) -> None:
    app.config["REGISTRATION_CAPACITY_LOCK"] = False
    counts = _rush(app)
    assert counts["confirmed"] > CAPACITY, counts


def test_sqlite_never_overbooks(make_sqlite_app: Callable[..., Flask]) -> None:
    app = make_sqlite_app()
    counts = _rush(app)
    assert counts == {"confirmed": CAPACITY, "waitlisted": CLIENTS - CAPACITY, "emails": CLIENTS}
