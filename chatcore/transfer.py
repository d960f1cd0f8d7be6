"""The JSON export/import format (one conversation or a full backup), checked whole before anything is stored.

The same format the page wrote from IndexedDB, so old browser backups and the one-time browser migration import
exactly.
"""

import json
import math
from datetime import datetime, timezone

from . import attachments
from .errors import ChatError
from .store.conversations import MAX_TITLE_CHARS

FORMAT = "chat-app-conversations"
VERSION = 1
ROLES = ("user", "assistant")
STATUSES = ("done", "error", "streaming", "interrupted")
MAX_CONVERSATIONS = 10_000
MAX_IMPORT_BYTES = 50 * 1024 * 1024  # one export file or backup


class TransferError(ValueError):
    """A file that cannot be imported: `code` names the problem (a string-table key), `detail` where it is."""

    def __init__(self, code, detail=""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, str(detail)


def _is_time(value) -> bool:
    """Absent, or a finite number of milliseconds."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def attachment_limits():
    """The attachment limits an import is checked against: the settings' defaults (an import is a file of its own,
    not bound to one instance's environment)."""
    from config import Settings

    return attachments.Limits.from_settings(Settings())


def _check_conversation(conversation, path, limits):
    """Raise TransferError naming the first bad field of one conversation; returns each message's attachments,
    checked (images re-encoded), by message index."""
    def bad(field):
        raise TransferError("import_bad_format", f"{path}.{field}")

    if not isinstance(conversation, dict):
        bad("(not an object)")
    if not isinstance(conversation.get("id"), str) or not conversation["id"]:
        bad("id")
    if not isinstance(conversation.get("title"), str):
        bad("title")
    for field in ("createdAt", "updatedAt"):
        if not _is_time(conversation.get(field)):
            bad(field)
    if not isinstance(conversation.get("messages"), list):
        bad("messages")
    checked = {}
    for j, message in enumerate(conversation["messages"]):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            bad(f"messages[{j}].role")
        if not isinstance(message.get("content"), str):
            bad(f"messages[{j}].content")
        if message.get("status", "done") not in STATUSES:
            bad(f"messages[{j}].status")
        if not isinstance(message.get("reasoning", ""), str):
            bad(f"messages[{j}].reasoning")
        if message.get("attachments") is not None:
            try:
                checked[j] = attachments.check_stored(message["attachments"], limits)
            except ChatError as exc:
                raise TransferError("import_bad_format", f"{path}.messages[{j}].attachments: {exc.message}") from None
    return checked


def parse_export(text) -> list[dict]:
    """The conversations of an export file, or TransferError (nothing is half-imported)."""
    try:
        document = json.loads(text) if isinstance(text, (str, bytes)) else text
    except ValueError:
        raise TransferError("import_not_json") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TransferError("import_bad_format", "format")
    version = document.get("version")
    if not isinstance(version, (int, float)) or version > VERSION:
        raise TransferError("import_too_new", version)
    items = document.get("conversations")
    if not isinstance(items, list):
        raise TransferError("import_bad_format", "conversations")
    if not items:
        raise TransferError("import_empty")
    if len(items) > MAX_CONVERSATIONS:
        raise TransferError("import_bad_format", f"more than {MAX_CONVERSATIONS} conversations")
    limits = attachment_limits()
    checked = [_check_conversation(conversation, f"conversations[{i}]", limits) for i, conversation in enumerate(items)]
    return [_stored_form(c, files) for c, files in zip(items, checked)]


def _stored_form(conversation, files) -> dict:
    """An imported conversation in the store's shape (an unfinished answer is kept and marked interrupted), with
    the checked attachments `files` (by message index)."""
    def message(j, m):
        status = "interrupted" if m.get("status") == "streaming" else m.get("status", "done")
        stats = m.get("stats") if isinstance(m.get("stats"), dict) else {}
        return {"role": m["role"], "content": m["content"], "status": status, "reasoning": m.get("reasoning") or None,
                "model": stats.get("model") if isinstance(stats.get("model"), str) else None,
                "usage": stats.get("usage") if isinstance(stats.get("usage"), dict) else None,
                "attachments": files.get(j)}

    # A title the store would refuse is shortened, so a checked file always imports whole.
    title = " ".join(conversation["title"].split())[:MAX_TITLE_CHARS]
    return {"id": conversation["id"], "title": title, "createdAt": conversation.get("createdAt"),
            "updatedAt": conversation.get("updatedAt"),
            "messages": [message(j, m) for j, m in enumerate(conversation["messages"])]}


def export_document(conversations, now: datetime | None = None) -> dict:
    """The export file for store conversations (each with its messages)."""
    now = now or datetime.now(timezone.utc)

    def message(m):
        out = {"role": m["role"], "content": m["content"], "status": m["status"]}
        if m.get("reasoning"):
            out["reasoning"] = m["reasoning"]
        if m.get("attachments"):
            out["attachments"] = m["attachments"]
        if m.get("model") or m.get("usage"):
            out["stats"] = {"model": m.get("model"), "usage": m.get("usage")}
        return out

    return {"format": FORMAT, "version": VERSION, "exportedAt": now.isoformat().replace("+00:00", "Z"),
            "conversations": [{"id": c["id"], "title": c["title"], "createdAt": c["created_at"],
                               "updatedAt": c["updated_at"], "messages": [message(m) for m in c["messages"]]}
                              for c in conversations]}
