"""Statements SQLAlchemy builds correctly but will not cache.

SQLAlchemy caches the compiled form of a statement built once and run with parameters,
except for its ``ON CONFLICT`` constructs, which it compiles again on every execution;
on the registration path that costs more than running them. The same statement as text,
in the syntax PostgreSQL (9.5+) and SQLite (3.35+) share, is cached like any other, and
keeps each column's type (JSON, UTC timestamps) from the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, TextClause, bindparam, text


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
