"""organiser assignments, attendance, attendee list indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:54:23.299018

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('program_organisers',
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organiser_id'], ['organisers.id'], name=op.f('fk_program_organisers_organiser_id_organisers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_organisers_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', 'organiser_id', name=op.f('pk_program_organisers'))
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_registrations_program_id_country', ['program_id', 'country'], unique=False)
        batch_op.create_index('ix_registrations_program_id_created_at', ['program_id', 'created_at'], unique=False)
        batch_op.create_index('ix_registrations_program_id_full_name', ['program_id', 'full_name'], unique=False)



def downgrade():
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_registrations_program_id_full_name')
        batch_op.drop_index('ix_registrations_program_id_created_at')
        batch_op.drop_index('ix_registrations_program_id_country')
        batch_op.drop_column('attended_at')

    op.drop_table('program_organisers')
