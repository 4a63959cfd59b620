"""The Alembic revisions build the schema from empty and agree with the models."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.schema import CreateIndex

from webapp.extensions import db, schema_filter


def _diff(app: Flask) -> list[object]:
    with app.app_context(), db.engine.connect() as connection:
        # As autogenerate compares (migrations/env.py): PostgreSQL-only indexes only there.
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "include_object": schema_filter(connection.dialect.name)},
        )
        return list(compare_metadata(context, db.metadata))


def test_postgresql_schema_matches_models(app: Flask) -> None:
    # The session fixture built this database with `flask db upgrade` from empty.
    assert _diff(app) == []
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert {"programs", "sessions", "registrations", "emails", "organisers", "audit_entries"} <= tables


def test_sqlite_schema_from_empty_matches_models(make_sqlite_app: Callable[..., Flask]) -> None:
    app = make_sqlite_app()
    assert _diff(app) == []


def test_sqlite_down_and_up_again_keeps_the_seat_counter(make_sqlite_app: Callable[..., Flask]) -> None:
    """Undoing the newest revision and doing it again leaves the schema as the models
    say, and keeps 0005's triggers (a table rebuilt by a batch migration loses them)."""
    from flask_migrate import downgrade, upgrade

    app = make_sqlite_app()
    with app.app_context():

        def triggers() -> list[str]:
            return sorted(db.session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())

        before = triggers()
        assert len(before) == 3
        db.session.rollback()
        downgrade(revision="0011")
        upgrade()
        assert triggers() == before
    assert _diff(app) == []


def test_postgresql_only_indexes_are_built_as_the_models_say(app: Flask) -> None:
    # Alembic compares an index's name and columns, not its method or operator class:
    # compare what PostgreSQL reports with what the models would create.
    with app.app_context():
        rows = db.session.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"))
        built = dict(rows.tuples().all())
        expected = {
            index.name: str(CreateIndex(index).compile(dialect=db.engine.dialect))
            for table in db.metadata.sorted_tables
            for index in table.indexes
            if index.info.get("only_on") == "postgresql"
        }
    assert len(expected) == 1
    for name, definition in expected.items():
        assert built[name].replace(" ON public.", " ON ") == definition, name
