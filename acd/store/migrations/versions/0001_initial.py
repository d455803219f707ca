"""customers, contact points, secrets, revisions, interactions, events, verification audit

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('account_number', sa.String(length=64), nullable=True),
    sa.Column('segment', sa.String(length=40), nullable=True),
    sa.Column('vip', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('owner_agent', sa.String(length=64), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('anonymised_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('customer_id'),
    sa.UniqueConstraint('account_number')
    )
    op.create_table('interaction_events',
    sa.Column('uid', sa.String(length=40), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('t', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('uid')
    )
    with op.batch_alter_table('interaction_events', schema=None) as batch_op:
        batch_op.create_index('ix_interaction_events_call', ['call_id', 'seq'], unique=False)

    op.create_table('verification_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('caller_number', sa.String(length=40), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('result', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verification_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_verification_caller', ['caller_number', 'at'], unique=False)
        batch_op.create_index('ix_verification_customer', ['customer_id', 'at'], unique=False)

    op.create_table('contact_points',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_id', 'kind', 'value')
    )
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.create_index('ix_contact_points_lookup', ['kind', 'value'], unique=False)

    op.create_table('customer_revisions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('old_value', sa.JSON(), nullable=True),
    sa.Column('new_value', sa.JSON(), nullable=True),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer_revisions', schema=None) as batch_op:
        batch_op.create_index('ix_customer_revisions_customer', ['customer_id', 'changed_at'], unique=False)

    op.create_table('customer_secrets',
    sa.Column('customer_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('hash', sa.String(length=200), nullable=False),
    sa.Column('set_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'kind')
    )
    op.create_table('interactions',
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('uniqueid', sa.String(length=64), nullable=True),
    sa.Column('linkedid', sa.String(length=64), nullable=True),
    sa.Column('ani', sa.String(length=40), nullable=True),
    sa.Column('dnis', sa.String(length=40), nullable=True),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('ended_at', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=True),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('verification_level', sa.String(length=12), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('recording', sa.String(length=255), nullable=True),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('anonymised_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('call_id')
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_agent', ['agent', 'started_at'], unique=False)
        batch_op.create_index('ix_interactions_ani', ['ani'], unique=False)
        batch_op.create_index('ix_interactions_customer', ['customer_id', 'started_at'], unique=False)
        batch_op.create_index('ix_interactions_started', ['started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_started')
        batch_op.drop_index('ix_interactions_customer')
        batch_op.drop_index('ix_interactions_ani')
        batch_op.drop_index('ix_interactions_agent')

    op.drop_table('interactions')
    op.drop_table('customer_secrets')
    with op.batch_alter_table('customer_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_revisions_customer')

    op.drop_table('customer_revisions')
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_points_lookup')

    op.drop_table('contact_points')
    with op.batch_alter_table('verification_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_verification_customer')
        batch_op.drop_index('ix_verification_caller')

    op.drop_table('verification_attempts')
    with op.batch_alter_table('interaction_events', schema=None) as batch_op:
        batch_op.drop_index('ix_interaction_events_call')

    op.drop_table('interaction_events')
    op.drop_table('customers')
