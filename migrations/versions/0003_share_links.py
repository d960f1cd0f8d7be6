"""Share links: a read-only snapshot of one conversation, reached by an unguessable token."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

ID = sa.String(32)


def upgrade():
    """Create the shares table."""
    op.create_table(
        "shares",
        sa.Column("id", ID),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shares"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_shares_user_id_users"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE",
                                name="fk_shares_conversation_id_conversations"),
        sa.UniqueConstraint("conversation_id", name="uq_shares_conversation_id"),
        sa.UniqueConstraint("token", name="uq_shares_token"),
    )


def downgrade():
    """Drop the shares table (every link stops working)."""
    op.drop_table("shares")
