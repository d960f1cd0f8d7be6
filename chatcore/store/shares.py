"""Share links: the owner snapshots a conversation under a random token; anyone with the token may read it."""

import secrets

import sqlalchemy as sa

from .conversations import get_conversation, is_id, new_id
from .engine import now_ms
from .schema import shares

TOKEN_BYTES = 24  # 192 random bits, URL-safe: no one guesses a link


def share(db, user_id, conversation_id) -> str | None:
    """Snapshot the conversation for its link (made on first share, kept on re-share); None if not the user's."""
    conversation = get_conversation(db, user_id, conversation_id)
    if conversation is None:
        return None
    snapshot = [{key: m.get(key) for key in ("role", "content", "status")} for m in conversation["messages"]]
    with db.begin() as connection:
        token = connection.execute(sa.select(shares.c.token).where(
            shares.c.conversation_id == conversation_id, shares.c.user_id == user_id)).scalar()
        if token:
            connection.execute(shares.update().where(shares.c.token == token).values(
                title=conversation["title"], messages=snapshot, created_at=now_ms()))
            return token
        token = secrets.token_urlsafe(TOKEN_BYTES)
        connection.execute(shares.insert().values(id=new_id(), user_id=user_id, conversation_id=conversation_id,
                                                  token=token, title=conversation["title"], messages=snapshot,
                                                  created_at=now_ms()))
    return token


def revoke(db, user_id, conversation_id) -> bool:
    """Delete the conversation's link (it answers 404 at once); False if there was none of the user's."""
    if not is_id(conversation_id):
        return False
    with db.begin() as connection:
        return bool(connection.execute(shares.delete().where(shares.c.conversation_id == conversation_id,
                                                             shares.c.user_id == user_id)).rowcount)


def shared(db, token) -> dict | None:
    """The snapshot behind a token: only its title, messages and date (nothing about the owner)."""
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        return None
    with db.connect() as connection:
        row = connection.execute(sa.select(shares.c.title, shares.c.messages, shares.c.created_at)
                                 .where(shares.c.token == token)).first()
    return {"title": row.title, "messages": row.messages, "created_at": row.created_at} if row else None
