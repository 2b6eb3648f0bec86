"""merged events: cluster uid, published state, suspicious fetches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:06:12.652289
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('published',
    sa.Column('uid', sa.String(length=120), nullable=False),
    sa.Column('recurrence_id', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_modified', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('uid', 'recurrence_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_uid', sa.String(length=120), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_merged_uid'), ['merged_uid'], unique=False)

    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspicious', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('accept_next', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('accept_next')
        batch_op.drop_column('suspicious')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_merged_uid'))
        batch_op.drop_column('merged_uid')

    op.drop_table('published')
