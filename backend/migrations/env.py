"""Alembic environment: runs on the connection handed over by `backend.db.migrate`."""

from alembic import context

from backend import models  # noqa: F401  (registers the tables)
from backend.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
