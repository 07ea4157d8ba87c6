"""initial schema

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chain_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.Integer(), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('contract', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('block_number', 'log_index')
    )
    with op.batch_alter_table('chain_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chain_events_block_number'), ['block_number'], unique=False)

    op.create_table('indexer_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('next_block', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('spec_hash', sa.String(length=66), nullable=False),
    sa.Column('submitter', sa.String(length=42), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('max_price', sa.String(length=78), nullable=False),
    sa.Column('required_stake', sa.String(length=78), nullable=False),
    sa.Column('checkpoint_count', sa.Integer(), nullable=False),
    sa.Column('checkpoint_interval', sa.Integer(), nullable=False),
    sa.Column('bidding_deadline', sa.Integer(), nullable=False),
    sa.Column('solver', sa.String(length=42), nullable=True),
    sa.Column('price', sa.String(length=78), nullable=True),
    sa.Column('execution_deadline', sa.Integer(), nullable=True),
    sa.Column('checkpoints_done', sa.Integer(), nullable=False),
    sa.Column('progress_root', sa.String(length=66), nullable=True),
    sa.Column('final_root', sa.String(length=66), nullable=True),
    sa.Column('challenge_deadline', sa.Integer(), nullable=True),
    sa.Column('solver_payout', sa.String(length=78), nullable=True),
    sa.Column('submitter_refund', sa.String(length=78), nullable=True),
    sa.Column('slashed', sa.String(length=78), nullable=True),
    sa.Column('updated_block', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_spec_hash'), ['spec_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_state'), ['state'], unique=False)

    op.create_table('specs',
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('hash')
    )
    op.create_table('bids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('solver', sa.String(length=42), nullable=False),
    sa.Column('price', sa.String(length=78), nullable=False),
    sa.Column('block_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bids_job_id'), ['job_id'], unique=False)

    op.create_table('checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('state_hash', sa.String(length=66), nullable=False),
    sa.Column('artifact', sa.String(length=66), nullable=False),
    sa.Column('loss', sa.Float(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'index')
    )
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkpoints_job_id'), ['job_id'], unique=False)

    op.create_table('verdicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('verifier', sa.String(length=42), nullable=False),
    sa.Column('interval', sa.Integer(), nullable=False),
    sa.Column('agrees', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verdicts_job_id'), ['job_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verdicts_job_id'))

    op.drop_table('verdicts')
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkpoints_job_id'))

    op.drop_table('checkpoints')
    with op.batch_alter_table('bids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bids_job_id'))

    op.drop_table('bids')
    op.drop_table('specs')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_jobs_spec_hash'))

    op.drop_table('jobs')
    op.drop_table('indexer_cursor')
    with op.batch_alter_table('chain_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chain_events_block_number'))

    op.drop_table('chain_events')
