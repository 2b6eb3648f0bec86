"""publication mark: a version of the stored events, and what the last publication was made of

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('publication_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('events_version', sa.Integer(), nullable=False),
    sa.Column('inputs_key', sa.String(length=64), nullable=True),
    sa.Column('valid_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(table, [{'id': 1, 'events_version': 0, 'inputs_key': None, 'valid_until': None}])


def downgrade() -> None:
    op.drop_table('publication_mark')
