"""Postgres: trigram indexes (pg_trgm) so searching titles and messages does not read every message.

SQLite scans instead (fast enough at the sizes bench/store.py measures). Where the extension cannot be created
(a managed database without it), search still works, by scanning.
"""

import logging

from alembic import op

revision = "0002"
down_revision = "0001"
log = logging.getLogger(__name__)


def upgrade():
    """Create pg_trgm (a trusted extension: the database owner may) and the two GIN indexes."""
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    try:
        with connection.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 - any refusal means: no index, search scans
        log.warning("pg_trgm unavailable (%s): search will scan messages", type(exc).__name__)
        return
    op.execute("CREATE INDEX ix_messages_content_trgm ON messages USING gin (content gin_trgm_ops)")
    op.execute("CREATE INDEX ix_conversations_title_trgm ON conversations USING gin (title gin_trgm_ops)")


def downgrade():
    """Drop the indexes (the extension stays: other schemas may use it)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_messages_content_trgm")
        op.execute("DROP INDEX IF EXISTS ix_conversations_title_trgm")
