"""The conversation on screen: draw it from the store, ask, stop, and the per-message actions.

Answers stream into the page through assets/chat.js (it follows the generation named in `chat-stream`); when one
ends, chat.js sets `chat-done`. Two callbacks draw the messages, each patching only what is new on top of the drawing
`chat-shown` says it was computed for, and only when nothing else is drawing (a patch that landed on another drawing
drew an answer twice):
- `show` draws anew, or an ended answer and what was added since. Dash drops its result when it is asked for again
  before it answers, and holds it while `send` is on its way: `send` writes `chat-current`, one of its inputs, and
  must be the one callback that writes it without `allow_duplicate` (Dash does not see through those).
- `send` draws the turn it asked. Any other drawing on its way then was asked for by a change of what `show` draws
  for (`drawn_for`: `send` sees the change and leaves the drawing to `show`), or by an answer that ended (Send is
  disabled until that drawing lands).
"""

import time

from dash import ClientsideFunction, Input, Output, Patch, State, no_update
from werkzeug.exceptions import NotFound

from callbacks.page import PREFERENCE_STATES, notice
from chatcore import attachments, turns
from chatcore.errors import ChatError
from chatcore.store import conversations
from components import ids
from components.input_bar import attached, limits_and_left
from components.message_list import WINDOW

# What both drawing callbacks set: the messages, the welcome hidden or not, the answer chat.js follows, and what is
# drawn (Send and Stop follow it in the browser: chat.js `shown`).
DRAWN = [(ids.HISTORY, "children"), (ids.RECENT, "children"), (ids.WELCOME, "hidden"), (ids.STREAM, "data"),
         (ids.SHOWN, "data")]
# What `show` draws: those, and the "earlier messages" button and the title.
SHOW = [*DRAWN, (ids.EARLIER, "hidden"), (ids.EARLIER, "children"), (ids.TITLE, "children")]
TAIL = 4  # the last messages read to draw what is new: the answer drawn live, and a turn asked after it


def bump(current, **changes):
    """`chat-current` again (so the conversation is drawn anew), with `changes`."""
    return {"window": WINDOW, **(current or {}), **changes, "v": time.time()}


def drawn_for(current, markdown, dark):
    """What a drawing depends on besides the store: which conversation, its window and version (`bump`), and how
    messages look. A drawing for anything else is not patched but drawn anew."""
    current = current or {}
    return [current.get("id"), current.get("v"), current.get("window"), bool(markdown), bool(dark)]


def status(found, live, markdown, count, recent, key):
    """The STREAM and SHOWN values for `found` drawn for `key` with `count` messages (the last `recent` of them
    appended since it was drawn anew, the last of all the last in `found`), its answer `live` (or None) streaming."""
    stream = live and {"gid": live["id"], "seq": live["seq"], "markdown": bool(markdown)}
    last = found["messages"][-1]["seq"] if found["messages"] else None
    shown = {"id": found["id"], "updated_at": found["updated_at"], "live": bool(live), "count": count,
             "recent": recent, "last": last, "for": key}
    return stream, shown


def news(shown, key, messages):
    """What the conversation's last `messages` add to the drawing `shown`: (its live answer, now ended, to draw
    again, or None; the messages after its last one), or None when it must be drawn anew (drawn for something else,
    or changed beyond these messages)."""
    shown = shown or {}
    seqs = [m["seq"] for m in messages]
    if shown.get("for") != key or not shown.get("count") or shown.get("last") not in seqs:
        return None
    at = seqs.index(shown["last"])
    ended = shown.get("live") and messages[at]["status"] != "streaming"
    return (messages[at] if ended else None), messages[at + 1:]


def patched(view, shown, found, new, live, key, markdown):
    """The DRAWN values that draw `new` (see `news`) of `found` on top of the drawing `shown`."""
    again, after = new
    count, recent = shown["count"], shown.get("recent", 0)
    history, appended = (Patch() if again and not recent else no_update), Patch()
    if again:  # in place of its live version: the last message drawn
        (appended if recent else history)[(recent or count) - 1] = view.message(again)
    appended.extend(view.messages(after))
    return history, appended, True, *status(found, live, markdown, count + len(after), recent + len(after), key)


def draw(page, current, markdown, dark, done=None, shown=None):
    """The SHOW values for the current conversation's last messages: anew, or only what is new since `shown` was
    drawn (see `news`). An answer still streaming is drawn with the text its log has, and followed by chat.js."""
    current, strings = current or {}, page.strings
    key, view = drawn_for(current, markdown, dark), page.view(bool(markdown), bool(dark))
    window = current.get("window") or WINDOW
    patchable = (shown or {}).get("for") == key  # else drawn anew
    found = page.conversation(current.get("id"), window=TAIL if patchable else window)
    if not found:
        return [], [], False, None, {"id": None, "for": key}, True, "", strings["title"]
    new = news(shown, key, found["messages"])
    if patchable and new is None:
        found = page.conversation(found["id"], window=window)
    messages = found["messages"]
    live = turns.streaming(messages)
    if live and live["id"] == (done or {}).get("gid"):
        live = None  # chat.js gave up following it (it ended for this page): drawn as stored, not followed again
    if live and (new is None or live in new[1]):
        page.generations.bring_up_to_date(live)
    title = found["title"] or strings["title"]
    if new is not None:
        return *patched(view, shown, found, new, live, key, markdown), no_update, no_update, title
    earlier = found["message_count"] - len(messages)
    return (view.messages(messages), [], bool(messages), *status(found, live, markdown, len(messages), 0, key),
            earlier <= 0, strings["loadEarlier"].format(n=min(earlier, WINDOW)), title)


def register(app, page):
    """The chat area's callbacks."""

    @app.callback(
        *[Output(*drawn) for drawn in SHOW], Output(ids.USAGE_LEFT, "children"),
        Input(ids.CURRENT, "data"), Input(ids.MARKDOWN, "data"), Input(ids.DARK, "data"), Input(ids.DONE, "data"),
        State(ids.SHOWN, "data"), prevent_initial_call=True,  # the page's layout comes drawn (`draw`)
    )
    def show(current, markdown, dark, done, shown):
        """Draw the current conversation anew, or only what is new since `shown` was drawn (an answer that ended);
        what is left of the user's limits is drawn again too."""
        left = limits_and_left(page.auth, page.user_id(), page.strings)[1]
        return *draw(page, current, markdown, dark, done, shown), left

    @app.callback(
        # chat-current without allow_duplicate: Dash holds `show` while this is on its way (see the top).
        Output(ids.INPUT, "value"), Output(ids.CURRENT, "data"),
        Output(ids.EDIT, "data", allow_duplicate=True), Output(ids.GLOBAL_MESSAGE, "children", allow_duplicate=True),
        Output(ids.ATTACH, "contents", allow_duplicate=True), Output(ids.ATTACH, "filename", allow_duplicate=True),
        *[Output(*drawn, allow_duplicate=True) for drawn in DRAWN],
        Input(ids.SEND, "n_clicks"), State(ids.INPUT, "value"), State(ids.CURRENT, "data"),
        State(ids.EDIT, "data"), State(ids.ATTACH, "contents"), State(ids.ATTACH, "filename"),
        State(ids.SHOWN, "data"), State(ids.MARKDOWN, "data"), State(ids.DARK, "data"), *PREFERENCE_STATES,
        prevent_initial_call=True,
    )
    def send(_clicks, value, current, edit, contents, filenames, shown, markdown, dark, *values):
        """Ask the typed question with the files picked (an edited one replaces itself and what followed); the box
        keeps both on refusal, and is emptied of both once the question is asked.

        The new turn is appended to what is drawn (a long conversation is not drawn again); a new chat or an
        edited question is drawn anew (by `show`: `chat-current` changes)."""
        strings, user_id = page.strings, page.user_id()
        question, files = (value or "").strip(), attachments.from_upload(contents, filenames)

        def refuse(kind, text):
            """Say why nothing was asked; the box keeps the question and the files."""
            return (no_update,) * 3 + (notice(kind, text),) + (no_update,) * (2 + len(DRAWN))

        if user_id is None:
            return refuse("error", page.error_text("not_signed_in"))
        if not question and not files:
            return refuse("warning", strings["emptyQuestion"])
        if len(question) > page.settings.max_input_chars:
            return refuse("error", strings["tooLong"].format(n=len(question), max=page.settings.max_input_chars))
        found = page.conversation((current or {}).get("id"), window=1)
        if found and turns.streaming(found["messages"]):
            return refuse("warning", strings["stillAnswering"])
        edit_seq = (edit or {}).get("seq")
        try:
            cid = turns.ask(page.generations, page.db, user_id, found and found["id"], question,
                            page.preferences_from(values), edit_seq=edit_seq, attachments=files)
        except ChatError as exc:  # refused before it started: nothing stored, the box keeps everything
            return refuse("error", page.error_text(exc.code))
        # Emptied only when they held something: every store that changes fires its own callbacks (requests).
        edit_out, files_out = (None if edit else no_update), ((None, None) if contents else (no_update, no_update))
        key = drawn_for(current, markdown, dark)
        tail = found and edit_seq is None and page.conversation(cid, window=TAIL)
        new = tail and news(shown, key, tail["messages"])
        if not new:
            return "", bump(current, id=cid), edit_out, no_update, *files_out, *(no_update,) * len(DRAWN)
        view = page.view(bool(markdown), bool(dark))
        return ("", no_update, edit_out, no_update, *files_out,
                *patched(view, shown, tail, new, turns.streaming(tail["messages"]), key, markdown))

    @app.callback(
        Output(ids.ATTACH_LIST, "hidden"), Output(ids.ATTACH_CHIPS, "children"),
        Input(ids.ATTACH, "filename"), prevent_initial_call=True,
    )
    def show_attached(filenames):
        """The files waiting to be sent, as chips above the box."""
        chips = attached(filenames)
        return not chips, chips

    @app.callback(
        Output(ids.ATTACH, "contents", allow_duplicate=True),
        Output(ids.ATTACH, "filename", allow_duplicate=True),
        Input(ids.ATTACH_CLEAR, "n_clicks"), prevent_initial_call=True,
    )
    def clear_attached(_clicks):
        """Remove the files picked."""
        return None, None

    @app.callback(Input(ids.STOP, "n_clicks"), State(ids.STREAM, "data"), prevent_initial_call=True)
    def stop(_clicks, stream):
        """Stop the answer on screen (the generation ends on the server; chat.js then sees its end)."""
        user_id = page.user_id()
        if stream and user_id:
            try:
                page.generations.cancel(user_id, stream["gid"])
            except ChatError as exc:
                if exc.status == 404:
                    raise NotFound() from None  # not this user's

    @app.callback(
        Output(ids.CURRENT, "data", allow_duplicate=True), Output(ids.INPUT, "value", allow_duplicate=True),
        Output(ids.EDIT, "data", allow_duplicate=True), Output(ids.COPY, "data"),
        Output(ids.GLOBAL_MESSAGE, "children", allow_duplicate=True),
        Input(ids.MESSAGE_ACTION, "data"), State(ids.CURRENT, "data"), *PREFERENCE_STATES,
        prevent_initial_call=True,
    )
    def act(action, current, *values):
        """Copy, retry/regenerate, edit or delete the message chat.js says was clicked."""
        user_id, found = page.user_id(), page.conversation((current or {}).get("id"))
        kind, seq = (action or {}).get("action"), (action or {}).get("seq")
        msg = found and next((m for m in found["messages"] if m["seq"] == seq), None)
        if not msg:
            raise NotFound()
        cid = found["id"]
        if kind == "copy":
            return no_update, no_update, no_update, {"text": msg["content"], "t": time.time()}, no_update
        if turns.streaming(found["messages"]):
            return no_update, no_update, no_update, no_update, notice("warning", page.strings["stillAnswering"])
        messages = found["messages"]
        if kind == "edit" and msg["role"] == "user":
            number = sum(1 for m in messages if m["role"] == "user" and m["seq"] <= seq)
            return no_update, msg["content"], {"seq": seq, "n": number}, no_update, no_update
        if kind == "delete":
            conversations.delete_messages(page.db, user_id, cid, turns.turn_of(messages, seq))
            return bump(current), no_update, None, no_update, no_update
        question = turns.question_before(messages, seq) if kind in ("retry", "regenerate") else None
        if question is None:
            return (no_update,) * 5
        # The last answer is replaced; an earlier one is asked again at the end, so no later turn is lost.
        last = msg["seq"] == messages[-1]["seq"]
        try:
            turns.ask(page.generations, page.db, user_id, cid, question["content"], page.preferences_from(values),
                      edit_seq=question["seq"] if last else None, files=question.get("attachments"))
        except ChatError as exc:  # e.g. a limit, or its images now asked of a model without vision
            return no_update, no_update, no_update, no_update, notice("error", page.error_text(exc.code))
        return bump(current), no_update, None, no_update, no_update

    @app.callback(
        Output(ids.EDIT_BANNER, "hidden"), Output(ids.EDIT_TEXT, "children"), Input(ids.EDIT, "data"),
        prevent_initial_call=True,
    )
    def edit_banner(edit):
        """Say which question is being edited (sending replaces it and everything after it)."""
        if not edit:
            return True, ""
        return False, page.strings["editing"].format(n=edit["n"])

    @app.callback(
        Output(ids.EDIT, "data", allow_duplicate=True), Output(ids.INPUT, "value", allow_duplicate=True),
        Input(ids.EDIT_CANCEL, "n_clicks"), prevent_initial_call=True,
    )
    def cancel_edit(_clicks):
        """Stop editing; the box is emptied."""
        return None, ""

    @app.callback(
        Output(ids.CURRENT, "data", allow_duplicate=True), Input(ids.EARLIER, "n_clicks"),
        State(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def earlier(_clicks, current):
        """Show as many earlier messages again."""
        return bump(current, window=(current or {}).get("window", WINDOW) + WINDOW)

    app.clientside_callback(ClientsideFunction("chat", "init"), Input(ids.CONFIG, "data"), State(ids.DARK, "data"))
    app.clientside_callback(ClientsideFunction("chat", "follow"), Input(ids.STREAM, "data"))
    app.clientside_callback(ClientsideFunction("chat", "copy"), Input(ids.COPY, "data"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "shown"), Output(ids.SEND, "disabled"),
                            Output(ids.STOP, "style"), Input(ids.SHOWN, "data"))
