"""program text in several languages

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:40:00

`programs.language` is the language the program's own text is written in (every
existing program: English); `programs.translations` and `sessions.translations` hold
its text in other languages (empty: none yet). Adding columns rebuilds no table on
SQLite (plain ALTER TABLE ADD COLUMN), so the triggers of 0005 stay in place.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.add_column('programs', sa.Column('language', sa.String(length=8), server_default='en', nullable=False))
    op.add_column('programs', sa.Column('translations', JSON, server_default=sa.text("'{}'"), nullable=False))
    op.add_column('sessions', sa.Column('translations', JSON, server_default=sa.text("'{}'"), nullable=False))


def downgrade():
    op.drop_column('sessions', 'translations')
    op.drop_column('programs', 'translations')
    op.drop_column('programs', 'language')
