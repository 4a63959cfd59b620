"""confirmed seat counter on programs, kept by triggers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:40:00

Registration used to count a program's confirmed registrations while holding the
program's row lock; with thousands of seats that count is most of the work done under
the lock. `programs.confirmed_count` is kept by row triggers on `registrations` (insert,
a change of status or program, delete; on PostgreSQL also TRUNCATE), so every path that
changes a registration, including ones written later or by hand in SQL, keeps it right,
in the same transaction.

On SQLite, an Alembic batch operation that rebuilds the `registrations` table drops its
triggers: a later migration doing that must create them again (see SQLITE below).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE programs SET confirmed_count = (
    SELECT count(*) FROM registrations
    WHERE registrations.program_id = programs.id AND registrations.status = 'confirmed'
)
"""

POSTGRESQL = [
    """
    CREATE FUNCTION registrations_confirmed_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'TRUNCATE' THEN
            UPDATE programs SET confirmed_count = 0 WHERE confirmed_count <> 0;
            RETURN NULL;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            IF OLD.status = 'confirmed' THEN
                UPDATE programs SET confirmed_count = confirmed_count - 1 WHERE id = OLD.program_id;
            END IF;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            IF NEW.status = 'confirmed' THEN
                UPDATE programs SET confirmed_count = confirmed_count + 1 WHERE id = NEW.program_id;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER registrations_confirmed_insert AFTER INSERT ON registrations
    FOR EACH ROW WHEN (NEW.status = 'confirmed')
    EXECUTE FUNCTION registrations_confirmed_count()
    """,
    """
    CREATE TRIGGER registrations_confirmed_update AFTER UPDATE OF status, program_id ON registrations
    FOR EACH ROW WHEN (
        (OLD.status IS DISTINCT FROM NEW.status OR OLD.program_id IS DISTINCT FROM NEW.program_id)
        AND 'confirmed' IN (OLD.status, NEW.status)
    )
    EXECUTE FUNCTION registrations_confirmed_count()
    """,
    """
    CREATE TRIGGER registrations_confirmed_delete AFTER DELETE ON registrations
    FOR EACH ROW WHEN (OLD.status = 'confirmed')
    EXECUTE FUNCTION registrations_confirmed_count()
    """,
    """
    CREATE TRIGGER registrations_confirmed_truncate AFTER TRUNCATE ON registrations
    FOR EACH STATEMENT EXECUTE FUNCTION registrations_confirmed_count()
    """,
]

SQLITE = [
    """
    CREATE TRIGGER registrations_confirmed_insert AFTER INSERT ON registrations
    WHEN NEW.status = 'confirmed'
    BEGIN
        UPDATE programs SET confirmed_count = confirmed_count + 1 WHERE id = NEW.program_id;
    END
    """,
    """
    CREATE TRIGGER registrations_confirmed_update AFTER UPDATE OF status, program_id ON registrations
    WHEN (OLD.status IS NOT NEW.status OR OLD.program_id IS NOT NEW.program_id)
        AND 'confirmed' IN (OLD.status, NEW.status)
    BEGIN
        UPDATE programs SET confirmed_count = confirmed_count - 1
        WHERE id = OLD.program_id AND OLD.status = 'confirmed';
        UPDATE programs SET confirmed_count = confirmed_count + 1
        WHERE id = NEW.program_id AND NEW.status = 'confirmed';
    END
    """,
    """
    CREATE TRIGGER registrations_confirmed_delete AFTER DELETE ON registrations
    WHEN OLD.status = 'confirmed'
    BEGIN
        UPDATE programs SET confirmed_count = confirmed_count - 1 WHERE id = OLD.program_id;
    END
    """,
]

TRIGGERS = ("insert", "update", "delete", "truncate")


def upgrade():
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_count', sa.Integer(), server_default='0', nullable=False))
    op.execute(BACKFILL)
    for statement in POSTGRESQL if op.get_bind().dialect.name == 'postgresql' else SQLITE:
        op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for name in TRIGGERS if postgresql else TRIGGERS[:3]:
        op.execute(f"DROP TRIGGER registrations_confirmed_{name}" + (" ON registrations" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION registrations_confirmed_count()")
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_column('confirmed_count')
