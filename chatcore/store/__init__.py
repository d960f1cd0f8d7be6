"""The server's store: users, settings, conversations and messages in SQLite or Postgres (SQLAlchemy Core)."""

from . import conversations, shares, usage, users
from .engine import STORE_ERRORS, StoreUnavailable, create_engine, migrate, sqlite_url

__all__ = ["conversations", "shares", "usage", "users", "STORE_ERRORS", "StoreUnavailable", "create_engine", "migrate", "sqlite_url"]
