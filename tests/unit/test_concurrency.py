"""Capacity under concurrent submissions: separate connections, real commits.

The guard is the program row lock (PostgreSQL) or the immediate write transaction
(SQLite). To make the race certain rather than likely, the PostgreSQL tests hold the
program's row lock themselves while every client submits, and let go only once all of
them are waiting for it: every client has then started (and, without the guard, read
the seat count) before any of them can write. The same rush without the guard then
overbooks every time: proof that the test can fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from tests.conftest import SMTPServer, app_settings, program_data, registration_input, truncate_all
from webapp.database import compile_for_driver
from webapp.extensions import db
from webapp.models import Email, Registration
from webapp.services.audit import Actor
from webapp.services.programs import import_program
from webapp.services.registrations import core, register, register_participant

CLIENTS = 30
CAPACITY = 10


@contextmanager
def _program_held(app: Flask, program_id: int, waiters: int) -> Iterator[Callable[[], None]]:
    """Hold the program's row on another connection; the callable it yields returns
    once `waiters` other sessions are blocked on a lock, then releases the row."""
    with app.app_context():
        engine = db.engine
    holder = engine.connect()
    transaction = holder.begin()
    holder.execute(text("UPDATE programs SET confirmed_count = confirmed_count WHERE id = :id"), {"id": program_id})

    def release_when_all_wait() -> None:
        deadline = time.monotonic() + 60
        # Autocommit: pg_stat_activity is read afresh by each transaction, not within one.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock'"
                    )
                )
                if waiting >= waiters:
                    break
                time.sleep(0.02)
            else:
                activity = watcher.execute(
                    text(
                        "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity "
                        "WHERE datname = current_database()"
                    )
                ).all()
                pytest.fail(f"only {waiting} of {waiters} clients reached the program lock: {activity}")
        transaction.rollback()

    try:
        yield release_when_all_wait
    finally:
        if transaction.is_active:
            transaction.rollback()
        holder.close()


@pytest.fixture
def rush_app(pg_url: str, redis_url: str, smtp: SMTPServer, tmp_path: Path) -> Iterator[Flask]:
    """The `app` fixture with a connection for every client (the default pool has 15)."""
    from webapp import create_app

    app = create_app(
        "testing",
        **app_settings(pg_url, redis_url, smtp, tmp_path),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": CLIENTS + 2, "max_overflow": 0, "pool_pre_ping": True},
    )
    yield app
    truncate_all(app)
    with app.app_context():
        db.engine.dispose()


def _rush(app: Flask, *, hold: bool) -> dict[str, int]:
    """CLIENTS people register at once for a program of CAPACITY seats with a waitlist."""
    with app.app_context():
        program, _ = import_program(program_data(capacity=CAPACITY, waitlist=True), actor=Actor.system())
        program_id = program.id
    together = threading.Barrier(CLIENTS)

    def one(i: int) -> str:
        with app.app_context():
            if not hold:
                together.wait()
            outcome = register_participant(
                program_id, registration_input(email=f"rush{i}@example.com"), actor=Actor.participant()
            )
            db.session.remove()
            return outcome.status

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        if hold:
            with _program_held(app, program_id, CLIENTS) as release_when_all_wait:
                futures = [pool.submit(one, i) for i in range(CLIENTS)]
                release_when_all_wait()
        else:
            futures = [pool.submit(one, i) for i in range(CLIENTS)]
        for future in futures:
            future.result()
    with app.app_context():
        rows = db.session.execute(select(Registration.status, func.count()).group_by(Registration.status))
        counts: dict[str, int] = dict(rows.tuples().all())
        counts["emails"] = db.session.scalar(select(func.count()).select_from(Email))
        return counts


def test_postgresql_never_overbooks(rush_app: Flask) -> None:
    counts = _rush(rush_app, hold=True)
    assert counts == {"confirmed": CAPACITY, "waitlisted": CLIENTS - CAPACITY, "emails": CLIENTS}


def test_postgresql_overbooks_without_the_guard(rush_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the same rush with the registration statement's FOR UPDATE (and the
    row lock of the other path) removed confirms every client."""
    unguarded = compile_for_driver(register._register_newcomer_statement(lock=False))
    monkeypatch.setattr(register, "_REGISTER_NEWCOMER", unguarded)
    monkeypatch.setattr(core, "_use_row_lock", lambda: False)
    counts = _rush(rush_app, hold=True)
    assert counts == {"confirmed": CLIENTS, "emails": CLIENTS}, counts


def test_sqlite_never_overbooks(make_sqlite_app: Callable[..., Flask]) -> None:
    counts = _rush(make_sqlite_app(), hold=False)
    assert counts == {"confirmed": CAPACITY, "waitlisted": CLIENTS - CAPACITY, "emails": CLIENTS}
