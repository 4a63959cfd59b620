"""zoom: the shared access token, registrants, session types

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 11:40:00

`zoom_tokens` holds the Server-to-Server OAuth token of the Zoom account, shared by every
process. `zoom_registrants` holds each registration's registrant id and personal join
link per Zoom session. `sessions.zoom_type` says whether `zoom_meeting_id` names a
webinar (the default) or a meeting. `zoom_webhook_events` keeps each event Zoom's
webhook delivered, once.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
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
    op.create_table(
        'zoom_registrants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('registration_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('registrant_id', sa.String(length=128), nullable=True),
        sa.Column('join_url', sa.String(length=1000), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'added', 'failed', 'cancelling', 'cancelled')",
            name=op.f('ck_zoom_registrants_status'),
        ),
        sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
                                name=op.f('fk_zoom_registrants_registration_id_registrations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'],
                                name=op.f('fk_zoom_registrants_session_id_sessions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_zoom_registrants')),
        sa.UniqueConstraint('registration_id', 'session_id',
                            name=op.f('uq_zoom_registrants_registration_id_session_id')),
    )
    op.create_index('ix_zoom_registrants_status_next_attempt_at', 'zoom_registrants',
                    ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_zoom_registrants_session_id'), 'zoom_registrants', ['session_id'], unique=False)
    op.create_table(
        'zoom_webhook_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=64), nullable=False),
        sa.Column('event', sa.String(length=100), nullable=False),
        sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_zoom_webhook_events')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_zoom_webhook_events_dedupe_key')),
    )
    # Sessions only: the registrations table (and its seat-counter triggers) is untouched.
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('zoom_type', sa.String(length=16), server_default='webinar', nullable=False))
        batch_op.create_check_constraint(op.f('ck_sessions_zoom_type'), "zoom_type IN ('webinar', 'meeting')")


def downgrade():
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sessions_zoom_type'), type_='check')
        batch_op.drop_column('zoom_type')
    op.drop_table('zoom_webhook_events')
    op.drop_index(op.f('ix_zoom_registrants_session_id'), table_name='zoom_registrants')
    op.drop_index('ix_zoom_registrants_status_next_attempt_at', table_name='zoom_registrants')
    op.drop_table('zoom_registrants')
    op.drop_table('zoom_tokens')
