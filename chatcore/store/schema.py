"""The database tables. Every row a user owns carries `user_id`, and every query filters on it."""

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    # Named constraints, so migrations can refer to them on SQLite and Postgres alike.
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

ID = sa.String(32)  # uuid4 hex: unguessable, and the same on every database

users = sa.Table(
    "users", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255)),  # NULL for users who sign in through a trusted proxy
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    # Bumped when the password changes or the user is disabled: older session cookies stop working.
    sa.Column("session_version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("last_seen_at", sa.BigInteger),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256: the token itself is never kept
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

user_settings = sa.Table(
    "user_settings", metadata,
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

conversations = sa.Table(
    "conversations", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    # The conversation list: one user's, newest first, read from the index alone.
    sa.Index("ix_conversations_user_updated", "user_id", "updated_at"),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # order within the conversation
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False, default=""),
    sa.Column("reasoning", sa.Text),
    sa.Column("status", sa.String(16), nullable=False, default="done"),
    sa.Column("model", sa.String(200)),
    sa.Column("usage", sa.JSON),
    # Files of a question (chatcore/attachments.py's prepared form); NULL when none.
    sa.Column("attachments", sa.JSON),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    sa.Index("ix_messages_user", "user_id"),
)

shares = sa.Table(
    "shares", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # One link per conversation; deleting the conversation revokes it.
    sa.Column("conversation_id", ID, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
              unique=True),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("messages", sa.JSON, nullable=False),  # a snapshot: later turns are not shared
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

usage_events = sa.Table(
    "usage_events", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("model", sa.String(200)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # Filled in when the answer ends; a row with no tokens yet is an answer still being generated.
    sa.Column("total_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("estimated", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_usage_events_user_created", "user_id", "created_at"),
)

user_limits = sa.Table(
    "user_limits", metadata,
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),  # only the limits set for this user; the rest are the defaults
)
