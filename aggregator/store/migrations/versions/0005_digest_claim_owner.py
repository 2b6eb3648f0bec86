"""digest sends: who holds a claim, and whether a resend may have duplicated a digest

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('digest_sends', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('possible_duplicate', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('digest_sends', schema=None) as batch_op:
        batch_op.drop_column('possible_duplicate')
        batch_op.drop_column('claimed_by')
