"""The history of a patient's facts, the withdrawal of a treatment course entered in
error, and the sign-in attempts every server process counts.

Revision ID: 0003
Revises: 0002
Created: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patient_fact_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_fk', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=50), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['patient_fk'], ['patients.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('patient_fact_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_fact_history_patient_fk'), ['patient_fk'],
                              unique=False)
    op.create_table('sign_in_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_attempts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempts_client'), ['client'],
                              unique=False)
    with op.batch_alter_table('treatments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawal_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('treatments', schema=None) as batch_op:
        batch_op.drop_column('withdrawal_reason')
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_attempts_client'))
        batch_op.drop_index(batch_op.f('ix_sign_in_attempts_at'))
    op.drop_table('sign_in_attempts')
    with op.batch_alter_table('patient_fact_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_fact_history_patient_fk'))
    op.drop_table('patient_fact_history')
