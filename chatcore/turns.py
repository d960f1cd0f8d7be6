"""The page's turns over the store: ask (new, edited or asked again), delete a turn, find a question.

The chat page's callbacks call these; every one takes the user id, so another user's ids find nothing.
"""

from chatcore.errors import ChatError
from chatcore.store import conversations

# Page settings → the fields of a generation request (POST /api/conversations/<id>/messages has the same).
PREFERENCE_FIELDS = {"multiTurn": "multi_turn", "model": "model", "systemPrompt": "system_prompt",
                     "temperature": "temperature", "maxTokens": "max_tokens", "historyTurns": "history_turns"}


def request_body(question: str, preferences: dict, attachments=None) -> dict:
    """The generation request for a question asked with the page's settings (and its files, `[{"name", "data"}]`)."""
    body = {"content": question}
    if attachments:
        body["attachments"] = attachments
    for key, field in PREFERENCE_FIELDS.items():
        value = preferences.get(key)
        if value is not None and value != "":
            body[field] = value.strip() if isinstance(value, str) else value
    return body


def ask(generations, db, user_id, conversation_id, question, preferences, edit_seq=None, attachments=None,
        files=None):
    """Ask `question` (with `attachments`, `[{"name", "data"}]`, or a stored question's `files` when it is asked
    again) in the conversation (a new one when None); returns the conversation id.

    An edited question first removes itself and every later turn. When the answer cannot start (a limit, an
    unknown model, refused files, the log unavailable) nothing is changed: a new conversation is removed again and
    the turns an edit removed are put back. The ChatError is raised, and the page keeps the question and its files
    in the box and says why (and, for a limit, when it resets).
    """
    created, removed = conversation_id is None, []
    if created:
        conversation_id = conversations.create_conversation(db, user_id, conversations.auto_title(question))["id"]
    elif edit_seq is not None:
        found = conversations.get_conversation(db, user_id, conversation_id)
        removed = [m for m in (found or {}).get("messages", ()) if m["seq"] >= edit_seq]
        if not conversations.delete_messages_from(db, user_id, conversation_id, edit_seq):
            raise ChatError(404, "not_found", "Not found.")
    try:
        generations.start(user_id, conversation_id, request_body(question, preferences, attachments), files=files)
    except ChatError:
        if created:
            conversations.delete_conversation(db, user_id, conversation_id)
        elif removed:
            conversations.add_messages(db, user_id, conversation_id, removed, ids=[m["id"] for m in removed])
        raise
    return conversation_id


def question_before(messages, seq):
    """The question answered by the message at `seq` (the user message before it), or None."""
    earlier = [m for m in messages if m["seq"] < seq and m["role"] == "user"]
    return earlier[-1] if earlier else None


def turn_of(messages, seq):
    """The seqs of the turn (question and its answer) holding the message at `seq`."""
    at = next((i for i, m in enumerate(messages) if m["seq"] == seq), None)
    if at is None:
        return []
    start = at if messages[at]["role"] == "user" else at - 1
    turn = [messages[start]] if start >= 0 and messages[start]["role"] == "user" else []
    if start + 1 < len(messages) and messages[start + 1]["role"] == "assistant":
        turn.append(messages[start + 1])
    return [m["seq"] for m in turn] or [seq]


def streaming(messages):
    """The answer still being written in these messages, or None."""
    return next((m for m in reversed(messages) if m["status"] == "streaming"), None)


def forget(generations, db, user_id, conversation_id) -> bool:
    """Delete a conversation of the user's, first stopping an answer still being written in it (so the model stops
    generating, and billing, for nobody); False if it is not the user's."""
    found = conversations.get_conversation(db, user_id, conversation_id, window=1)
    if found is None:
        return False
    for msg in found["messages"]:
        if msg["status"] == "streaming":
            try:
                generations.cancel(user_id, msg["id"])
            except ChatError:
                pass  # it has just ended
    return conversations.delete_conversation(db, user_id, conversation_id)
