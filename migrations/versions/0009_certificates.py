"""certificates: one per registration with its verification code, and the program option

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:45:00

`certificates` holds each registrant's certificate of attendance: the code that verifies
it (unique, 16 characters of Crockford base32) and what it certifies, copied at issue.
`programs.certificates` (default false) is the program's option to send them.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("program_title", sa.String(length=200), nullable=False),
        sa.Column("organiser_name", sa.String(length=200), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.CheckConstraint("minutes >= 0", name=op.f("ck_certificates_minutes")),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_certificates_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("code", name=op.f("uq_certificates_code")),
        sa.UniqueConstraint("registration_id", name=op.f("uq_certificates_registration_id")),
    )
    # A plain ADD COLUMN, as in 0008: a batch would rebuild `programs` on SQLite, which
    # the seat-counter triggers of 0005 name.
    op.add_column("programs", sa.Column("certificates", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column("programs", "certificates")
    op.drop_table("certificates")
