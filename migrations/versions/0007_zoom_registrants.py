"""zoom: the shared access token

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 11:40:00

`zoom_tokens` holds the Server-to-Server OAuth token of the Zoom account, shared by every
process.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'zoom_tokens',
        sa.Column('account_id', sa.String(length=128), nullable=False),
        sa.Column('access_token', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('account_id', name=op.f('pk_zoom_tokens')),
    )


def downgrade():
    op.drop_table('zoom_tokens')
