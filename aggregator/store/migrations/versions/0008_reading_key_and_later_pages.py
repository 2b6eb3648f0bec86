"""sources: how the last good read was made, the cache state of its later pages, auto's choice

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No reading key yet: every source is read afresh once after the upgrade (its later pages were
    # never recorded, and the release that upgrades may read it differently).
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reading_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('later_pages', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('auto_choice', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('auto_choice')
        batch_op.drop_column('later_pages')
        batch_op.drop_column('reading_key')
