"""Alembic runs migrations on the connection the app hands it (chatcore/store/engine.py: migrate)."""

from alembic import context

from chatcore.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Migrations run from the app: chatcore.store.engine.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
