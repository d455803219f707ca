"""customers.name_key: the name with accents, case, hyphens and spacing folded, for search

Revision ID: 0004_name_key
Revises: 0003_tasks
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

from acd.store.names import name_key


revision = '0004_name_key'
down_revision = '0003_tasks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_customers_name_key'), ['name_key'], unique=False)
    conn = op.get_bind()
    customers = sa.table('customers', sa.column('customer_id', sa.String), sa.column('name', sa.String),
                         sa.column('name_key', sa.String))
    rows = conn.execute(sa.select(customers.c.customer_id, customers.c.name)).all()
    if rows:  # the existing names, folded as the engine folds new ones, in one executemany
        conn.execute(customers.update().where(customers.c.customer_id == sa.bindparam('cid')).values(name_key=sa.bindparam('key')),
                     [{'cid': customer_id, 'key': name_key(name)} for customer_id, name in rows])


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_name_key'))
        batch_op.drop_column('name_key')
