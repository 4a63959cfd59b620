"""Statements SQLAlchemy builds correctly but will not cache, and the one way to run a
statement on the driver itself.

SQLAlchemy caches the compiled form of a statement built once and run with parameters,
except for its ``ON CONFLICT`` constructs, which it compiles again on every execution;
on the registration path that costs more than running them. The same statement as text,
in the syntax PostgreSQL (9.5+) and SQLite (3.35+) share, is cached like any other, and
keeps each column's type (JSON, UTC timestamps) from the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, Table, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import IntegrityError


def insert_skipping_conflicts(table: Table, columns: Sequence[str], conflict: Sequence[str]) -> TextClause:
    """``INSERT INTO table (columns) VALUES (:column, ...) ON CONFLICT (conflict) DO
    NOTHING RETURNING id``, run with one dict of parameters: returns the new row's id,
    or no row if one with the same `conflict` values exists. Nothing is read first, so
    there is no race between checking and writing."""
    unknown = [name for name in (*columns, *conflict) if name not in table.c]
    if unknown:  # fail at import, not at the first request
        raise KeyError(f"{table.name} has no column {', '.join(unknown)}")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING id"
    )
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns)).columns(table.c.id)


def compile_for_driver(statement: TextClause) -> str:
    """A statement's SQL as psycopg takes it (``%(name)s`` parameters, each cast to
    its column's type), for `run_alone`. Compiled once, at import."""
    return str(statement.compile(dialect=psycopg_dialect()))


def run_alone(engine: Engine, sql: str, params: Mapping[str, Any]) -> Any:
    """Run one PostgreSQL statement as its own transaction (autocommit) on a pooled
    connection, and return its first row (a named tuple) or None. Dicts and lists in
    `params` are sent as JSON (jsonb).

    It runs straight on the driver (psycopg): for the registration path, SQLAlchemy's
    execution and result machinery cost more than the statement itself (about 0.2 ms
    a request, `bench/rush.py`). The connection comes from the pool as any other
    (checked with a ping) and goes back to it as it came, out of autocommit. A unique
    violation is raised as SQLAlchemy's IntegrityError, like every other statement's."""
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
