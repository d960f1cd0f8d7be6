"""Conversations and their messages. Every function takes the user's id and never reaches another user's rows."""

import hashlib
import itertools
import re
import uuid

import sqlalchemy as sa

from .engine import now_ms
from .schema import conversations, messages

MAX_TITLE_CHARS = 200
TITLE_CHARS = 30  # an automatic title: the first question's first line, cut here
ROLES = ("user", "assistant")
STATUSES = ("done", "error", "streaming", "interrupted")
_ID = re.compile(r"^[0-9a-f]{32}$")
_TITLE_MARKS = re.compile(r"^[\s#>*\-`]+")


class ConversationError(ValueError):
    """A title, role or status the store refuses; the message says which."""


def is_id(value) -> bool:
    """True for something shaped like our ids (anything else is simply not found)."""
    return isinstance(value, str) and bool(_ID.match(value))


def new_id() -> str:
    """A fresh unguessable id."""
    return uuid.uuid4().hex


def auto_title(question: str) -> str:
    """A title from the first question: its first non-empty line without Markdown marks, at most 30 characters."""
    line = next((_TITLE_MARKS.sub("", line).strip() for line in question.split("\n")
                 if _TITLE_MARKS.sub("", line).strip()), "")
    line = " ".join(line.split())
    return line[:TITLE_CHARS] + "…" if len(line) > TITLE_CHARS else line


def check_title(title) -> str:
    """A usable title, or ConversationError."""
    if not isinstance(title, str):
        raise ConversationError("title must be a string")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE_CHARS:
        raise ConversationError(f"title is longer than {MAX_TITLE_CHARS} characters")
    return title


def _summary(row) -> dict:
    """A conversation as listed."""
    return {"id": row.id, "title": row.title, "created_at": row.created_at, "updated_at": row.updated_at}


def _message(row) -> dict:
    """A message (a row's mapping) as the API and the page see it."""
    out = {key: row[key] for key in ("id", "seq", "role", "content", "status", "model", "usage", "created_at")}
    if row["reasoning"]:
        out["reasoning"] = row["reasoning"]
    if row["attachments"]:
        out["attachments"] = row["attachments"]
    return out


# The statements of every question asked, built once with named parameters: building and hashing a statement
# per call cost more worker CPU than SQLite running it. `_`-prefixed names are parameters of WHERE clauses.
_OWNED = sa.and_(conversations.c.id == sa.bindparam("_cid"), conversations.c.user_id == sa.bindparam("_uid"))
_MESSAGE_COUNT = (sa.select(sa.func.count()).where(messages.c.conversation_id == conversations.c.id)
                  .scalar_subquery().label("message_count"))
_CONVERSATION = sa.select(conversations, _MESSAGE_COUNT).where(_OWNED)
_OWNS = sa.select(conversations.c.id).where(_OWNED)
_LAST_MESSAGES = (messages.select().where(messages.c.conversation_id == sa.bindparam("_cid"))
                  .order_by(messages.c.seq.desc()).limit(sa.bindparam("_window")))
_ALL_MESSAGES = messages.select().where(messages.c.conversation_id == sa.bindparam("_cid")).order_by(messages.c.seq)
_LAST_SEQ = sa.select(sa.func.max(messages.c.seq)).where(messages.c.conversation_id == sa.bindparam("_cid"))
_INSERT_MESSAGE = messages.insert()
# An untitled conversation takes the automatic title; the row count says whether it is the user's.
_TOUCH = (conversations.update().where(_OWNED).values(
    updated_at=sa.bindparam("_now"),
    title=sa.case((conversations.c.title == "", sa.bindparam("_title")), else_=conversations.c.title)))
_MESSAGE = messages.select().where(messages.c.id == sa.bindparam("_id"), messages.c.user_id == sa.bindparam("_uid"))
_UPDATE_MESSAGE = messages.update().where(messages.c.id == sa.bindparam("_id"),
                                          messages.c.user_id == sa.bindparam("_uid"))
_UPDATE_MESSAGE_IF = _UPDATE_MESSAGE.where(messages.c.status == sa.bindparam("_status"))


def list_conversations(db, user_id, query="", limit=1000) -> list[dict]:
    """The user's conversations, newest first; with `query`, those whose title or any message contains it."""
    statement = conversations.select().where(conversations.c.user_id == user_id)
    query = (query or "").strip()
    if query:
        def matches(column):
            """Contains the query; case-insensitive only when case exists (CJK has none, and exact is faster)."""
            caseless = query.lower() == query.upper()
            return column.contains(query, autoescape=True) if caseless else column.icontains(query, autoescape=True)

        in_messages = sa.select(messages.c.conversation_id).where(messages.c.user_id == user_id,
                                                                  matches(messages.c.content))
        statement = statement.where(sa.or_(matches(conversations.c.title), conversations.c.id.in_(in_messages)))
    statement = statement.order_by(conversations.c.updated_at.desc(), conversations.c.id).limit(limit)
    with db.connect() as connection:
        return [_summary(row) for row in connection.execute(statement)]


def create_conversation(db, user_id, title="") -> dict:
    """A new, empty conversation."""
    now = now_ms()
    row = {"id": new_id(), "user_id": user_id, "title": check_title(title), "created_at": now, "updated_at": now}
    with db.begin() as connection:
        connection.execute(conversations.insert().values(**row))
    return {key: row[key] for key in ("id", "title", "created_at", "updated_at")} | {"messages": []}


def get_conversation(db, user_id, conversation_id, window=None) -> dict | None:
    """The conversation with its messages (the last `window` of them when given), or None if not the user's."""
    if not is_id(conversation_id):
        return None
    with db.connect() as connection:
        row = connection.execute(_CONVERSATION, {"_cid": conversation_id, "_uid": user_id}).first()
        if row is None:
            return None
        if window:
            rows = list(connection.execute(_LAST_MESSAGES, {"_cid": conversation_id, "_window": window}))[::-1]
        else:
            rows = list(connection.execute(_ALL_MESSAGES, {"_cid": conversation_id}))
    return _summary(row) | {"messages": [_message(m._mapping) for m in rows], "message_count": row.message_count}


def rename_conversation(db, user_id, conversation_id, title) -> dict | None:
    """Set the title; None if not the user's."""
    title = check_title(title)
    if not is_id(conversation_id):
        return None
    with db.begin() as connection:
        if not connection.execute(conversations.update().where(_OWNED).values(title=title, updated_at=now_ms()),
                                  {"_cid": conversation_id, "_uid": user_id}).rowcount:
            return None
        return _summary(connection.execute(conversations.select().where(conversations.c.id == conversation_id)).one())


def delete_conversation(db, user_id, conversation_id) -> bool:
    """Delete the conversation and its messages; False if not the user's."""
    if not is_id(conversation_id):
        return False
    with db.begin() as connection:
        connection.execute(messages.delete().where(messages.c.conversation_id == conversation_id,
                                                   messages.c.user_id == user_id))
        return bool(connection.execute(conversations.delete().where(_OWNED),
                                       {"_cid": conversation_id, "_uid": user_id}).rowcount)


def _message_row(user_id, conversation_id, seq, message, now, message_id=None):
    """The row of one message at position `seq` (refused if its role or status is not one the store knows)."""
    row = {"id": message_id or new_id(), "conversation_id": conversation_id, "user_id": user_id, "seq": seq,
           "role": message["role"], "content": message.get("content", ""), "reasoning": message.get("reasoning"),
           "status": message.get("status", "done"), "model": message.get("model"), "usage": message.get("usage"),
           "attachments": message.get("attachments") or None, "created_at": message.get("created_at") or now}
    if row["role"] not in ROLES or row["status"] not in STATUSES:
        raise ConversationError("role or status is not one the store knows")
    return row


def _insert_message(connection, user_id, conversation_id, seq, message, now, message_id=None):
    """Insert one message row at position `seq`; returns it as a dict."""
    row = _message_row(user_id, conversation_id, seq, message, now, message_id)
    connection.execute(_INSERT_MESSAGE, row)
    return _message(row)


def add_messages(db, user_id, conversation_id, new_messages, ids=(), first=None) -> list[dict] | None:
    """Append messages in one transaction (a turn is stored whole or not at all); None if not the user's.

    The first question of an untitled conversation becomes its title. `ids` gives the first messages ids
    chosen by the caller (a generation is known by its answer's id before the answer is stored). `first(connection)`
    runs in the same transaction before the messages are written (an answer's quota count).
    """
    if not is_id(conversation_id):
        return None
    now = now_ms()
    # A question of files alone is titled by its first file's name.
    first_question = next((m["content"] or (m.get("attachments") or [{}])[0].get("name", "")
                           for m in new_messages if m["role"] == "user"), "")
    with db.begin() as connection:
        # Touching the conversation first checks it is the user's and takes the write lock for the whole turn.
        if not connection.execute(_TOUCH, {"_cid": conversation_id, "_uid": user_id, "_now": now,
                                           "_title": auto_title(first_question) if first_question else ""}).rowcount:
            return None
        if first:
            first(connection)
        last = connection.execute(_LAST_SEQ, {"_cid": conversation_id}).scalar()
        seq = 0 if last is None else last + 1
        rows = [_message_row(user_id, conversation_id, seq + i, m, now, message_id)
                for i, (m, message_id) in enumerate(itertools.zip_longest(new_messages, ids[:len(new_messages)]))]
        connection.execute(_INSERT_MESSAGE, rows)
    return [_message(row) for row in rows]


def get_message(db, user_id, message_id) -> dict | None:
    """One message of the user's (with its reasoning, '' when none), or None."""
    if not is_id(message_id):
        return None
    with db.connect() as connection:
        row = connection.execute(_MESSAGE, {"_id": message_id, "_uid": user_id}).first()
    return None if row is None else _message(row._mapping) | {"reasoning": row.reasoning or "",
                                                              "conversation_id": row.conversation_id}


def update_message(db, user_id, message_id, only_if_status=None, also=None, **fields) -> bool:
    """Change a message's content, reasoning, status, model or usage; False if not the user's (or, with
    `only_if_status`, not in that status: a final answer must not be overwritten by a late 'interrupted').
    `also(connection)` runs in the same transaction (an answer's token count, saved with it)."""
    allowed = {key: value for key, value in fields.items() if key in ("content", "reasoning", "status", "model", "usage")}
    if "status" in allowed and allowed["status"] not in STATUSES:
        raise ConversationError("status is not one the store knows")
    if not is_id(message_id):
        return False
    params = {"_id": message_id, "_uid": user_id, **allowed}
    if only_if_status:
        params["_status"] = only_if_status
    with db.begin() as connection:
        changed = bool(connection.execute(_UPDATE_MESSAGE_IF if only_if_status else _UPDATE_MESSAGE, params).rowcount)
        if also:
            also(connection)
        return changed


def update_messages(db, changes):
    """Save several answers' fields in one transaction (one statement per set of fields): `changes` is a list of
    (user id, message id, fields). Every running answer's partial text, written once a tick, not once each."""
    groups = {}
    for user_id, message_id, fields in changes:
        groups.setdefault(tuple(sorted(fields)), []).append({"_id": message_id, "_uid": user_id, **fields})
    with db.begin() as connection:
        for rows in groups.values():
            connection.execute(_UPDATE_MESSAGE, rows)


def delete_messages_from(db, user_id, conversation_id, seq) -> bool:
    """Delete the messages at `seq` and after (edit and resend, retry); False if not the user's."""
    return _delete_messages(db, user_id, conversation_id, messages.c.seq >= seq)


def delete_messages(db, user_id, conversation_id, seqs) -> bool:
    """Delete the messages at these positions (a turn deleted from the page); False if not the user's."""
    return _delete_messages(db, user_id, conversation_id, messages.c.seq.in_(list(seqs)))


def _delete_messages(db, user_id, conversation_id, which) -> bool:
    """Delete the conversation's messages matching `which`, in one transaction; False if not the user's."""
    if not is_id(conversation_id):
        return False
    with db.begin() as connection:
        if connection.execute(_OWNS, {"_cid": conversation_id, "_uid": user_id}).first() is None:
            return False
        connection.execute(messages.delete().where(messages.c.conversation_id == conversation_id,
                                                   messages.c.user_id == user_id, which))
        connection.execute(conversations.update().where(conversations.c.id == conversation_id)
                           .values(updated_at=now_ms()))
    return True


def import_conversation(db, user_id, conversation) -> str | None:
    """Store an imported conversation (already validated) whole; None when the same one is already there.

    Its id comes from the user and the original id, so importing the same backup twice adds nothing, and a
    changed copy of an imported conversation is added beside it rather than overwriting it.
    """
    conversation_id = hashlib.sha256(f"{user_id}:{conversation['id']}".encode()).hexdigest()[:32]
    existing = get_conversation(db, user_id, conversation_id)
    if existing is not None:
        same = [(m["role"], m["content"]) for m in existing["messages"]] == [
            (m["role"], m["content"]) for m in conversation["messages"]]
        if same:
            return None
        conversation_id = new_id()
    now = now_ms()
    with db.begin() as connection:
        connection.execute(conversations.insert().values(
            id=conversation_id, user_id=user_id, title=check_title(conversation.get("title", "")),
            created_at=int(conversation.get("createdAt") or now), updated_at=int(conversation.get("updatedAt") or now)))
        for seq, message in enumerate(conversation["messages"]):
            if message.get("status") == "streaming":  # no generation will ever finish it here
                message = {**message, "status": "interrupted" if message.get("content") else "error"}
            _insert_message(connection, user_id, conversation_id, seq, message, now)
    return conversation_id


def every_conversation(db, user_id, limit) -> list[dict]:
    """The user's newest `limit` conversations, each whole (a full backup)."""
    full = [get_conversation(db, user_id, c["id"]) for c in list_conversations(db, user_id, limit=limit)]
    return [c for c in full if c]  # one deleted meanwhile is left out


def import_conversations(db, user_id, items) -> tuple[int, int]:
    """Store checked imported conversations; returns (how many were added, how many were already there)."""
    added = sum(1 for item in items if import_conversation(db, user_id, item))
    return added, len(items) - added
