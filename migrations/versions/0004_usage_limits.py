"""Per-user limits: one usage event per answer asked for (counted before the model is called), and overrides."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

ID = sa.String(32)


def upgrade():
    """Create usage_events and user_limits."""
    op.create_table(
        "usage_events",
        sa.Column("id", ID),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("total_tokens", sa.Integer, nullable=False),
        sa.Column("estimated", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_usage_events"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_usage_events_user_id_users"),
    )
    op.create_index("ix_usage_events_user_created", "usage_events", ["user_id", "created_at"])
    op.create_table(
        "user_limits",
        sa.Column("user_id", ID),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_limits"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE", name="fk_user_limits_user_id_users"),
    )


def downgrade():
    """Drop both tables."""
    op.drop_table("user_limits")
    op.drop_table("usage_events")
