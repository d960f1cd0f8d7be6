"""The conversation list: draw it from the store, pick, new, search, rename, delete, clear, JSON export and
import, the phone drawer, keeping several browsers in step, and the access code."""

import base64
import json
import time
from datetime import datetime

from dash import ClientsideFunction, Input, Output, State, ctx, dcc, no_update
from werkzeug.exceptions import NotFound

from callbacks.chat import bump
from callbacks.page import notice, unless_drawn_only
from chatcore import transfer, turns
from chatcore.errors import ChatError
from chatcore.store import conversations
from chatcore.store.engine import now_ms
from components import conversation_list, ids
from components.message_list import WINDOW


def download(document, prefix):
    """A JSON export file for dcc.Download."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return dcc.send_string(json.dumps(document, ensure_ascii=False, indent=1), f"{prefix}-{stamp}.json",
                           type="application/json")


def register(app, page):
    """The list's callbacks."""

    @app.callback(
        Output(ids.LIST, "children"), Output(ids.LIST_SIG, "data"),
        Input(ids.CURRENT, "data"), Input(ids.SEARCH, "value"), Input(ids.CHANGED, "data"),
        State(ids.LIST_SIG, "data"),
        prevent_initial_call=True,  # the page load draws it (components/conversation_list.py)
    )
    def show_list(current, query, _changed, listed):
        """The user's conversations, newest first (matching the search when there is one); unchanged → no update."""
        return listing(current, query, listed)

    def listing(current, query, listed):
        """(the list's items, their signature), or no_update twice when they are what is drawn."""
        children, signature = conversation_list.items(page.db, page.user_id(), (current or {}).get("id"), query,
                                                      page.strings)
        return (no_update, no_update) if signature == listed else (children, signature)

    @app.callback(
        Output(ids.LIST, "children", allow_duplicate=True), Output(ids.LIST_SIG, "data", allow_duplicate=True),
        Output(ids.CURRENT, "data", allow_duplicate=True), Output(ids.DONE, "data", allow_duplicate=True),
        Input(ids.SYNC, "n_intervals"), State(ids.SEARCH, "value"), State(ids.LIST_SIG, "data"),
        State(ids.SHOWN, "data"), State(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def sync(_tick, query, listed, shown, current):
        """What another browser of the user changed, in one request every few seconds while the page is seen: the
        list, and the conversation on screen drawn again; or, while this page streams its answer, that answer's end
        once the store has it ended (chat.js asks for that drawing itself, but its request is lost if the network
        was down as the answer ended)."""
        user_id, cid = page.user_id(), (shown or {}).get("id")
        if not user_id or not cid:
            return *listing(current, query, listed), no_update, no_update
        found = conversations.get_conversation(page.db, user_id, cid, window=1)
        redraw, ended = no_update, no_update
        if found is None:
            redraw = bump(current, id=None, window=WINDOW)  # deleted elsewhere: a new chat takes its place
        elif shown.get("live"):
            last = found["messages"][-1] if found["messages"] else None
            if last and last["role"] == "assistant" and not turns.streaming(found["messages"]):
                # As chat.js says it: `show` draws the end in place.
                ended = {"gid": last["id"], "at": now_ms()}
        elif found["updated_at"] != shown.get("updated_at"):
            redraw = bump(current)
        return *listing(current, query, listed), redraw, ended

    @app.callback(
        Output(ids.CURRENT, "data", allow_duplicate=True), Output(ids.EDIT, "data", allow_duplicate=True),
        Output(ids.SHELL, "className", allow_duplicate=True),
        Input(ids.PICK, "data"), Input(ids.NEW_CHAT, "n_clicks"), State(ids.CURRENT, "data"),
        prevent_initial_call=True,
    )
    def pick(picked, new_clicks, current):
        """Show the clicked conversation, or a new empty chat; on phones the drawer closes."""
        cid = (picked or {}).get("id") if ctx.triggered_id == ids.PICK else None
        return bump(None, id=cid), None, "chat-shell"

    @app.callback(
        Output(ids.RENAME_MODAL, "visible"), Output(ids.RENAME_INPUT, "value"),
        Output(ids.DELETE_MODAL, "visible"), Output(ids.DELETE_TEXT, "children"),
        # Not run before the dialogs are drawn (its outputs are missing); Dash runs it once as they are drawn (an
        # initial call: its outputs arrive), so a click made before that opens the dialog then.
        Input(ids.PENDING, "data"),
    )
    def confirm(pending):
        """Open the rename or delete dialog for the conversation chat.js says was clicked (only the user's own)."""
        found = page.conversation((pending or {}).get("id"), window=1)
        if not found:
            return no_update, no_update, no_update, no_update
        if pending["action"] == "rename":
            return True, found["title"], False, ""
        return False, "", True, page.strings["deleteConfirm"].format(title=found["title"] or page.strings["newChat"])

    @app.callback(
        Output(ids.CHANGED, "data", allow_duplicate=True), Output(ids.GLOBAL_MESSAGE, "children", allow_duplicate=True),
        Output(ids.CURRENT, "data", allow_duplicate=True),
        Input(ids.RENAME_MODAL, "okCounts"), State(ids.RENAME_INPUT, "value"), State(ids.PENDING, "data"),
        State(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def rename(ok, title, pending, current):
        """Rename the pending conversation."""
        unless_drawn_only(ok)
        found = page.conversation((pending or {}).get("id"), window=1)
        try:
            conversations.rename_conversation(page.db, page.user_id(), found["id"], (title or "").strip())
        except conversations.ConversationError as exc:
            return no_update, notice("error", str(exc)), no_update
        same = pending["id"] == (current or {}).get("id")
        return time.time(), no_update, bump(current) if same else no_update

    @app.callback(
        Output(ids.CHANGED, "data", allow_duplicate=True), Output(ids.CURRENT, "data", allow_duplicate=True),
        Input(ids.DELETE_MODAL, "okCounts"), State(ids.PENDING, "data"), State(ids.CURRENT, "data"),
        prevent_initial_call=True,
    )
    def delete(ok, pending, current):
        """Delete the pending conversation (its answer, if one is being written, is stopped first)."""
        unless_drawn_only(ok)
        return forget((pending or {}).get("id"), current)

    @app.callback(
        Output(ids.CHANGED, "data", allow_duplicate=True), Output(ids.CURRENT, "data", allow_duplicate=True),
        Input(ids.CLEAR, "n_clicks"), State(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def clear(_clicks, current):
        """Clear the conversation on screen: it is deleted, and a new chat takes its place."""
        return forget((current or {}).get("id"), current)

    def forget(cid, current):
        """Delete a conversation of the user's; the screen moves to a new chat if it was shown."""
        if not cid:
            return no_update, no_update
        user_id = page.user_id()
        if not user_id or not turns.forget(page.generations, page.db, user_id, cid):
            raise NotFound()  # anyone else's, or gone: as page.conversation() answers
        shown = cid == (current or {}).get("id")
        return time.time(), bump(current, id=None, window=WINDOW) if shown else no_update

    @app.callback(
        Output(ids.DOWNLOAD, "data", allow_duplicate=True), Input(ids.EXPORT_JSON, "n_clicks"),
        Input(ids.BACKUP_EXPORT, "nClicks", allow_optional=True),  # in the drawer, drawn after the first screen
        State(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def export_json(one, every, current):
        """The conversation on screen (export-json) or every conversation (backup) as a JSON file."""
        unless_drawn_only(one if ctx.triggered_id == ids.EXPORT_JSON else every)
        user_id = page.user_id()
        if not user_id:
            return no_update
        if ctx.triggered_id == ids.EXPORT_JSON:
            found = page.conversation((current or {}).get("id"))
            return download(transfer.export_document([found]), "chat") if found else no_update
        every = conversations.every_conversation(page.db, user_id, transfer.MAX_CONVERSATIONS)
        return download(transfer.export_document(every), "chat-backup")

    @app.callback(
        Output(ids.CHANGED, "data", allow_duplicate=True), Output(ids.GLOBAL_MESSAGE, "children", allow_duplicate=True),
        Output(ids.BACKUP_IMPORT, "contents"),
        Input(ids.BACKUP_IMPORT, "contents"), prevent_initial_call=True,
    )
    def import_file(contents):
        """Import an export file or a backup: checked whole first, then stored; the same file can be picked again."""
        unless_drawn_only(contents)
        user_id = page.user_id()
        if not user_id:
            return no_update, no_update, None
        try:
            data = base64.b64decode(contents.split(",", 1)[-1])
            if len(data) > transfer.MAX_IMPORT_BYTES:
                raise transfer.TransferError("import_too_large", transfer.MAX_IMPORT_BYTES // 2**20)
            items = transfer.parse_export(data)
        except transfer.TransferError as exc:
            return no_update, notice("error", page.error_text(exc.code).format(detail=exc.detail)), None
        except ValueError:
            return no_update, notice("error", page.error_text("import_not_json").format(detail="")), None
        added, _ = conversations.import_conversations(page.db, user_id, items)
        return time.time(), notice("success", page.strings["imported"].format(n=added)), None

    @app.callback(
        Output(ids.ACCESS_CODE_MODAL, "visible"), Output(ids.CHANGED, "data", allow_duplicate=True),
        Output(ids.CURRENT, "data", allow_duplicate=True), Output(ids.GLOBAL_MESSAGE, "children", allow_duplicate=True),
        Input(ids.ACCESS_CODE_MODAL, "okCounts"), State(ids.ACCESS_CODE_INPUT, "value"), State(ids.CURRENT, "data"),
        prevent_initial_call=True,
    )
    def access_code(ok, code, current):
        """Check the access code; once right, the session cookie remembers it."""
        unless_drawn_only(ok)
        try:
            page.auth.login("", (code or "").strip())
        except ChatError as exc:
            code = "invalid_access_code" if exc.code == "bad_credentials" else exc.code
            return True, no_update, no_update, notice("error", page.error_text(code))
        return False, time.time(), bump(current), no_update

    app.clientside_callback(ClientsideFunction("chat", "toggleSider"), Output(ids.SHELL, "className"),
                            Input(ids.SIDER_TOGGLE, "n_clicks"), prevent_initial_call=True)
