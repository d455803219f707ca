"""tasks: follow-up tasks on customers and their history

Revision ID: 0003_tasks
Revises: 0002_customer360
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_tasks'
down_revision = '0002_customer360'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tasks',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('owner_kind', sa.String(length=8), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.Float(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.Column('closed_at', sa.Float(), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('escalated_to_supervisor', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('callback_number', sa.String(length=40), nullable=True),
    sa.Column('callback_call_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('task_id')
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_owner', ['owner_kind', 'owner', 'status', 'due_at'], unique=False)
        batch_op.create_index('ix_tasks_customer', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_tasks_status_due', ['status', 'due_at'], unique=False)

    op.create_table('task_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('task_events', schema=None) as batch_op:
        batch_op.create_index('ix_task_events_task', ['task_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_events', schema=None) as batch_op:
        batch_op.drop_index('ix_task_events_task')
    op.drop_table('task_events')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_status_due')
        batch_op.drop_index('ix_tasks_customer')
        batch_op.drop_index('ix_tasks_owner')
    op.drop_table('tasks')
