"""rendered VEVENTs, reused by publish

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rendered_vevents',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('ics', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('rendered_vevents')
