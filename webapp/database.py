"""Everything that differs between PostgreSQL and SQLite, in one place: which one the
session is on, SQLite's connection settings and transactions, inserts that skip rows
whose unique key exists, and the one way to run a statement on the driver itself.

Services ask `is_postgresql()` rather than reading dialect names. The SQLite listeners
below apply to every engine from the moment this module is imported (by `webapp.setup`).

SQLAlchemy caches the compiled form of a statement built once and run with parameters,
except for its ``ON CONFLICT`` constructs, which it compiles again on every execution;
on the registration path that costs more than running them. The same statement as text,
in the syntax PostgreSQL (9.5+) and SQLite (3.35+) share (`insert_skipping_conflicts`),
is cached like any other, and keeps each column's type (JSON, UTC timestamps) from the table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import TIMESTAMP, Engine, Insert, Table, TextClause, bindparam, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db

# --- which database ----------------------------------------------------------------


def dialect_name() -> str:
    """ "postgresql" or "sqlite": the database the current session talks to."""
    return db.session.get_bind().dialect.name


def database_now() -> datetime:
    """The one clock the rules are judged with: PostgreSQL's ``clock_timestamp()`` (the
    same clock the one-statement registration reads, and read at the moment of asking,
    so after a lock the caller waited for), or, for SQLite, which runs in this process,
    this process's clock. Always in UTC."""
    if is_postgresql():
        return db.session.scalar(_CLOCK).astimezone(UTC)
    return datetime.now(UTC)


_CLOCK = text("SELECT clock_timestamp()").columns(clock=TIMESTAMP(timezone=True))


def is_postgresql() -> bool:
    """True on PostgreSQL (row locks, SKIP LOCKED, the one-statement registration);
    False on SQLite, whose transactions are exclusive already (see `_sqlite_on_begin`)."""
    return dialect_name() == "postgresql"


# --- SQLite -------------------------------------------------------------------------


def engine_options(database_uri: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The engine options for `database_uri`: on SQLite, one file shared by many
    threads, each with its own pooled connection, waiting for the write lock."""
    if not database_uri.startswith("sqlite"):
        return dict(options)
    return {**options, "connect_args": {"check_same_thread": False, "timeout": 30}}


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: WAL (readers do not block the writer), foreign keys, a busy timeout,
    and transactions we begin ourselves (see `_sqlite_on_begin`)."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # SQLite's own lower() folds ASCII only; the attendee search (a generated column
    # and its pattern, `Registration.search_text`) folds every script, as PostgreSQL's.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection: Any) -> None:
    """SQLite: every transaction takes the write lock when it begins, so two of them
    can never read the same seat count and both act on it (SQLite's equivalent of the
    program row lock on PostgreSQL)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- inserts that skip duplicates -----------------------------------------------------


def insert_ignoring_duplicates(table: Table, index_elements: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (index_elements) DO NOTHING`` on `table`, for the
    session's database, as a construct: add ``.values(...)`` or run it with a list of
    parameter sets (and ``.returning(...)`` to learn which rows were written)."""
    dialect = postgresql if is_postgresql() else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(index_elements))


def insert_skipping_conflicts(table: Table, columns: Sequence[str], conflict: Sequence[str]) -> TextClause:
    """``INSERT INTO table (columns) VALUES (:column, ...) ON CONFLICT (conflict) DO
    NOTHING RETURNING id``, run with one dict of parameters: returns the new row's id,
    or no row if one with the same `conflict` values exists. Nothing is read first, so
    there is no race between checking and writing. Text, so SQLAlchemy caches it (see
    the module's docstring); for many rows use `insert_ignoring_duplicates`."""
    unknown = [name for name in (*columns, *conflict) if name not in table.c]
    if unknown:  # fail at import, not at the first request
        raise KeyError(f"{table.name} has no column {', '.join(unknown)}")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING id"
    )
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns)).columns(table.c.id)


# --- straight on the driver (PostgreSQL) ------------------------------------------------


def compile_for_driver(statement: TextClause) -> str:
    """A statement's SQL as psycopg takes it (``%(name)s`` parameters, each cast to
    its column's type), for `run_alone`. Compiled once, at import."""
    return str(statement.compile(dialect=psycopg_dialect()))


def run_alone(engine: Engine, sql: str, params: Mapping[str, Any]) -> Any:
    """Run one PostgreSQL statement as its own transaction (autocommit) on a pooled
    connection, and return its first row (a named tuple) or None. Dicts and lists in
    `params` are sent as JSON (jsonb).

    It runs straight on the driver (psycopg): for the registration path, SQLAlchemy's
    execution and result machinery cost more than the statement itself. The connection
    comes from the pool as any other (checked with a ping) and goes back to it as it
    came, out of autocommit. A unique violation is raised as SQLAlchemy's
    IntegrityError, like every other statement's."""
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        driver.autocommit = True
        try:
            with driver.cursor(row_factory=namedtuple_row) as cursor:
                values = {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in params.items()}
                return cursor.execute(sql, values, prepare=True).fetchone()
        except psycopg.IntegrityError as exc:
            raise IntegrityError(sql, dict(params), exc, hide_parameters=True) from exc
        except psycopg.OperationalError:
            pooled.invalidate()  # the connection is gone; the pool opens a new one
            raise
        finally:
            if not driver.closed:
                driver.autocommit = False
    finally:
        pooled.close()
