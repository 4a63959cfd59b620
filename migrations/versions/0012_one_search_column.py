"""attendee list: one generated, lower-cased search column with one trigram index; an index to sort by organisation

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:00:00

The search matched `ILIKE '%text%'` on three columns, each with its own trigram index
(0011). PostgreSQL's estimate for an OR of three such conditions made it read all of a
program's rows rather than combine the indexes, and case-folding each row three times
was most of that time: counting the tabs of "khan" (a fifth of 50,000 rows) took over
100 ms. `search_text` holds the name, the normalised address and the organisation,
lower-cased by the database, one per line; the search is one `LIKE` on it (the text
lower-cased by the same `lower()`), served by one trigram index.

The list sorts by each of its columns; organisation alone had no (program_id, column)
index, so that sort read and sorted all of a program's rows for each page.

PostgreSQL stores the column (GENERATED ... STORED, rewriting the table once); SQLite,
the embedded default, adds it as a virtual column, computed when read, and searches by
scanning as before.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# As webapp.models.registrations.SEARCH_TEXT at this revision (a migration never
# imports the models: they move on, it must not).
SEARCH_TEXT = "lower(full_name || '\n' || email_normalized || '\n' || organisation)"
OLD = ("full_name", "email_normalized", "organisation")


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    # persisted=None: STORED where PostgreSQL requires it, VIRTUAL where SQLite's ALTER
    # TABLE allows no other.
    op.add_column("registrations", sa.Column("search_text", sa.Text(), sa.Computed(SEARCH_TEXT), nullable=True))
    op.create_index("ix_registrations_program_id_organisation", "registrations", ["program_id", "organisation"])
    if not postgresql:
        return
    for column in OLD:
        op.drop_index(f"ix_registrations_{column}_trgm", table_name="registrations")
    op.create_index(
        "ix_registrations_search_text_trgm",
        "registrations",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def downgrade():
    op.drop_index("ix_registrations_program_id_organisation", table_name="registrations")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_registrations_search_text_trgm", table_name="registrations")
        for column in OLD:
            op.create_index(
                f"ix_registrations_{column}_trgm",
                "registrations",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
    # Not batch mode: on SQLite that rebuilds the table and loses its triggers (0005's
    # seat counter). SQLite 3.35 and later drop a column in place.
    op.drop_column("registrations", "search_text")
