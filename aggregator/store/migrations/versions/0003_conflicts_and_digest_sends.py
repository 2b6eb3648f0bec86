"""conflicts and digest sends

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:43:38.948490
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conflicts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('a_uid', sa.String(length=120), nullable=False),
    sa.Column('b_uid', sa.String(length=120), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('ack_note', sa.Text(), nullable=True),
    sa.Column('ack_hash', sa.String(length=64), nullable=True),
    sa.Column('ack_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflicts_a_uid'), ['a_uid'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflicts_b_uid'), ['b_uid'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflicts_starts_at'), ['starts_at'], unique=False)

    op.create_table('digest_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('night', sa.Date(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('delivered_to', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('night', 'recipient', name='uq_digest_night_recipient')
    )
    with op.batch_alter_table('digest_sends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_sends_night'), ['night'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('digest_sends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_sends_night'))

    op.drop_table('digest_sends')
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflicts_starts_at'))
        batch_op.drop_index(batch_op.f('ix_conflicts_b_uid'))
        batch_op.drop_index(batch_op.f('ix_conflicts_a_uid'))

    op.drop_table('conflicts')
