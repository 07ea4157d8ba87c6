"""reorg-safe index (block hashes, each event's job), transactional outbox, the sealed sample on the job

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('indexed_blocks',
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.Integer(), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('task', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=42), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('broker_run', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('block_number', 'log_index', 'task', 'address')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_block_number'), ['block_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)

    # Plain ADD COLUMN (no batch copy): SQLite cannot drop `jobs` for a copy while rows reference it.
    op.add_column('chain_events', sa.Column('job_id', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_chain_events_job_id'), 'chain_events', ['job_id'], unique=False)
    op.add_column('jobs', sa.Column('sampled_intervals', sa.JSON(), nullable=True))
    op.add_column('jobs', sa.Column('commit_deadline', sa.BigInteger(), nullable=True))

    # Events indexed before: their job, from their arguments (dispute steps name only their dispute). Their
    # blocks have no stored hash, so a reorg below this upgrade is not seen; one above it rewinds as usual.
    bind = op.get_bind()
    events = sa.table('chain_events', sa.column('id', sa.Integer), sa.column('args', sa.JSON),
                      sa.column('job_id', sa.Integer))
    disputes = dict(bind.execute(sa.text("SELECT id, job_id FROM disputes")).all())
    for id, args in bind.execute(sa.select(events.c.id, events.c.args)).all():
        job = args.get('jobId') if args.get('jobId') is not None else disputes.get(int(args.get('disputeId', -1)))
        if job is not None:
            bind.execute(events.update().where(events.c.id == id).values(job_id=int(job)))
    # A sealed job indexed before 0005 has no sample here: the indexer reads it from the chain when it starts.


def downgrade() -> None:
    op.drop_column('jobs', 'commit_deadline')  # SQLite >= 3.35 drops a column in place
    op.drop_column('jobs', 'sampled_intervals')
    op.drop_index(op.f('ix_chain_events_job_id'), table_name='chain_events')
    op.drop_column('chain_events', 'job_id')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_job_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_block_number'))
    op.drop_table('outbox')
    op.drop_table('indexed_blocks')
