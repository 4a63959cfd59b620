"""zoom sessions: objects created from the editor, the live count, the attendance sweep

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:00:00

`sessions` gains what Rollcall keeps in step with Zoom: whether it created the session's
Zoom webinar or meeting, the action still to be done there (create, creating, update,
delete) with its attempts, last error, next try, give-up time, last success and a digest
of what was sent; when Zoom said the session ended; and the attendance fetch's state
(fetched at, attempts, last error, next try) for beat's sweep. `zoom_presence` holds who
is in a running Zoom session, from Zoom's participant joined/left events.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = [
    ("zoom_created", sa.Boolean(), sa.text("false"), False),
    ("zoom_sync", sa.String(length=16), None, True),
    ("zoom_sync_attempts", sa.Integer(), "0", False),
    ("zoom_sync_error", sa.Text(), None, True),
    ("zoom_sync_next_at", sa.DateTime(timezone=True), None, True),
    ("zoom_sync_failed_at", sa.DateTime(timezone=True), None, True),
    ("zoom_synced_at", sa.DateTime(timezone=True), None, True),
    ("zoom_sync_key", sa.String(length=64), None, True),
    ("zoom_ended_at", sa.DateTime(timezone=True), None, True),
    ("attendance_fetched_at", sa.DateTime(timezone=True), None, True),
    ("attendance_attempts", sa.Integer(), "0", False),
    ("attendance_error", sa.Text(), None, True),
    ("attendance_next_at", sa.DateTime(timezone=True), None, True),
]


def upgrade():
    # Plain ADD COLUMNs, as 0008: no table rebuild on SQLite. SQLite cannot add a CHECK
    # in place; there the code's own values are the guard.
    for name, type_, default, nullable in _COLUMNS:
        op.add_column("sessions", sa.Column(name, type_, server_default=default, nullable=nullable))
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            op.f("ck_sessions_zoom_sync"),
            "sessions",
            "zoom_sync IS NULL OR zoom_sync IN ('create', 'creating', 'update', 'delete')",
        )
    op.create_table(
        "zoom_presence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("participant_key", sa.String(length=300), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_zoom_presence_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zoom_presence")),
        sa.UniqueConstraint("session_id", "participant_key", name=op.f("uq_zoom_presence_session_id_participant_key")),
    )


def downgrade():
    op.drop_table("zoom_presence")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_sessions_zoom_sync"), "sessions", type_="check")
    for name, *_ in reversed(_COLUMNS):
        op.drop_column("sessions", name)
