"""chunked uploads in progress, the index of solver-hosted artifacts

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artifact_uploads',
    sa.Column('digest', sa.String(length=66), nullable=False),
    sa.Column('uploader', sa.String(length=42), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', 'uploader')
    )
    with op.batch_alter_table('artifact_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_uploads_updated_at'), ['updated_at'], unique=False)

    op.create_table('artifact_sources',
    sa.Column('digest', sa.String(length=66), nullable=False),
    sa.Column('solver', sa.String(length=42), nullable=False),
    sa.Column('url', sa.String(length=300), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', 'solver')
    )
    with op.batch_alter_table('artifact_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_artifact_sources_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('artifact_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_sources_job_id'))
    op.drop_table('artifact_sources')
    with op.batch_alter_table('artifact_uploads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_artifact_uploads_updated_at'))
    op.drop_table('artifact_uploads')
