"""signed requests accepted once, one verdict per verifier and interval, artifact uploads per uploader

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signed_requests',
    sa.Column('digest', sa.String(length=66), nullable=False),
    sa.Column('signer', sa.String(length=42), nullable=False),
    sa.Column('expires', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    with op.batch_alter_table('signed_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_requests_expires'), ['expires'], unique=False)

    op.create_table('artifacts',
    sa.Column('digest', sa.String(length=66), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('uploader', sa.String(length=42), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifacts_uploader'), ['uploader'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifacts_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_artifacts_created_at'), ['created_at'], unique=False)

    # Replayed verdicts were stored once per replay before: keep the first of each.
    op.execute("DELETE FROM verdicts WHERE id NOT IN (SELECT MIN(id) FROM verdicts GROUP BY job_id, verifier, interval)")
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_verdicts_job_id_verifier_interval', ['job_id', 'verifier', 'interval'])


def downgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.drop_constraint('uq_verdicts_job_id_verifier_interval', type_='unique')
    with op.batch_alter_table('artifacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifacts_created_at'))
        batch_op.drop_index(batch_op.f('ix_artifacts_job_id'))
        batch_op.drop_index(batch_op.f('ix_artifacts_uploader'))
    op.drop_table('artifacts')
    with op.batch_alter_table('signed_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_requests_expires'))
    op.drop_table('signed_requests')
