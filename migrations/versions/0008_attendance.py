"""attendance: minutes per registration and session, and the program's threshold

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:10:00

`attendances` holds how many minutes each registration spent in each session and where
that came from (Zoom's report, the webhook, an uploaded CSV, a manual mark).
`programs.attendance_threshold_percent` (default 75) is the share of a session's length
that counts as attending it.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attendances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('zoom_report', 'webhook', 'csv', 'manual')", name=op.f("ck_attendances_source")),
        sa.CheckConstraint("minutes >= 0", name=op.f("ck_attendances_minutes")),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_attendances_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_attendances_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendances")),
        sa.UniqueConstraint("registration_id", "session_id", name=op.f("uq_attendances_registration_id_session_id")),
    )
    op.create_index(op.f("ix_attendances_session_id"), "attendances", ["session_id"], unique=False)
    # A plain ADD COLUMN: on SQLite a batch would rebuild `programs`, which the seat-counter
    # triggers of 0005 name, and the rebuild fails. SQLite cannot add a CHECK to a table
    # in place, so there the program file's validation (1-100) is the guard.
    op.add_column(
        "programs", sa.Column("attendance_threshold_percent", sa.Integer(), server_default="75", nullable=False)
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            op.f("ck_programs_attendance_threshold_percent"),
            "programs",
            "attendance_threshold_percent BETWEEN 1 AND 100",
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_programs_attendance_threshold_percent"), "programs", type_="check")
    op.drop_column("programs", "attendance_threshold_percent")
    op.drop_index(op.f("ix_attendances_session_id"), table_name="attendances")
    op.drop_table("attendances")
