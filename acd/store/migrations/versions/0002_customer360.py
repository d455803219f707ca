"""customer 360: contacts other than calls, access audit, merges, erasures; preferred contact
points; merged customers

Revision ID: 0002_customer360
Revises: 0001
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_customer360'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.String(length=36), nullable=True))
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('customer_contacts',
    sa.Column('contact_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('anonymised_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('contact_id')
    )
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_customer_contacts_customer', ['customer_id', 'at'], unique=False)
        batch_op.create_index('ix_customer_contacts_at', ['at'], unique=False)

    op.create_table('customer_access',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('who', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer_access', schema=None) as batch_op:
        batch_op.create_index('ix_customer_access_customer', ['customer_id', 'at'], unique=False)

    op.create_table('customer_merges',
    sa.Column('merge_id', sa.String(length=36), nullable=False),
    sa.Column('kept_id', sa.String(length=36), nullable=False),
    sa.Column('merged_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('moved', sa.JSON(), nullable=False),
    sa.Column('undone_at', sa.Float(), nullable=True),
    sa.Column('undone_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('merge_id')
    )
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.create_index('ix_customer_merges_kept', ['kept_id'], unique=False)
        batch_op.create_index('ix_customer_merges_merged', ['merged_id'], unique=False)

    op.create_table('customer_erasures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('customer_erasures')
    with op.batch_alter_table('customer_merges', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_merges_merged')
        batch_op.drop_index('ix_customer_merges_kept')
    op.drop_table('customer_merges')
    with op.batch_alter_table('customer_access', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_access_customer')
    op.drop_table('customer_access')
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_contacts_at')
        batch_op.drop_index('ix_customer_contacts_customer')
    op.drop_table('customer_contacts')
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.drop_column('preferred')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('merged_into')
