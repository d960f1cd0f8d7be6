"""Messages keep their attachments: images (as re-encoded data URLs) and the text read from files."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade():
    """Add messages.attachments (NULL for messages without any)."""
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attachments", sa.JSON))


def downgrade():
    """Drop messages.attachments."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("attachments")
