"""attendee search: trigram indexes on the searched columns of registrations (PostgreSQL)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:00:00

The attendee list's search matches any part of the name, the normalised email or the
organisation (`ILIKE '%text%'`), which no B-tree can answer: every search read all of a
program's rows, twice. A GIN index with pg_trgm's `gin_trgm_ops` per column answers
`LIKE`/`ILIKE` from the search's trigrams (three characters or more), and PostgreSQL
rechecks each candidate row, so results are exactly those of the scan.

`pg_trgm` is a trusted extension (PostgreSQL 13 and later): the database's owner, or
any role with CREATE on the database, may create it without being a superuser.
SQLite, the embedded default, has no such index and searches by scanning, as before.
"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SEARCHED = ("full_name", "email_normalized", "organisation")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCHED:
        op.create_index(
            f"ix_registrations_{column}_trgm",
            "registrations",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in SEARCHED:
        op.drop_index(f"ix_registrations_{column}_trgm", table_name="registrations")
    # The extension stays: it may have been there before, and other objects may use it.
