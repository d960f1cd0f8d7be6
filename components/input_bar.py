"""The input bar: the edit banner, the files picked, the message box, attach, send and stop, and what is left of the
user's limits under it ("还剩 12 条 / 12 left today")."""

from dash import dcc, html

from chatcore import quotas
from chatcore.attachments import IMAGE_EXTENSIONS, TEXT_EXTENSIONS
from components import ids
from components.header import button

# What the file picker offers; the server decides by content whatever is picked or dropped (chatcore/attachments.py).
ACCEPT = ",".join(["image/*", ".pdf", *sorted(f".{ext}" for ext in IMAGE_EXTENSIONS | TEXT_EXTENSIONS)])


def attached(filenames):
    """The chips of the files waiting to be sent (names only: their contents stay in the browser until sending)."""
    if isinstance(filenames, str):
        filenames = [filenames]
    return [html.Span(name, className="chat-attach-chip", title=name) for name in filenames or ()]


def render(strings, left=""):
    """A text area that grows with its text (CSS `field-sizing`; Enter sends: assets/chat.js), Send and Stop.

    No `maxLength` here on purpose: the browser would silently cut a long paste; sending refuses instead and
    keeps every character in the box.
    """
    return html.Footer(
        className="chat-input-bar",
        children=[
            html.Div(id=ids.EDIT_BANNER, className="chat-edit-banner", hidden=True, children=[
                html.Span(id=ids.EDIT_TEXT),
                html.Button(strings["cancelEdit"], id=ids.EDIT_CANCEL, className="chat-link-button"),
            ]),
            html.Div(id=ids.ATTACH_LIST, className="chat-attach-list", hidden=True, children=[
                html.Div(id=ids.ATTACH_CHIPS, className="chat-attach-chips"),
                html.Button(strings["clearAttachments"], id=ids.ATTACH_CLEAR, className="chat-link-button"),
            ]),
            html.Div(className="chat-input-row", children=[
                # dcc.Upload opens the picker on a click and takes files dropped on it; the server checks them.
                dcc.Upload(html.Button(className="chat-icon-button chat-icon-attach", title=strings["attach"],
                                       type="button", **{"aria-label": strings["attach"]}),
                           id=ids.ATTACH, multiple=True, accept=ACCEPT, className="chat-attach"),
                dcc.Textarea(id=ids.INPUT, className="chat-field chat-input", value="", rows=1,
                             placeholder=strings["placeholder"], autoFocus="autofocus"),
                button(strings["send"], ids.SEND, "send", "primary", text_hides=False),
                button(strings["stop"], ids.STOP, "stop", "danger", text_hides=False, style={"display": "none"}),
            ]),
            html.Div(left, id=ids.USAGE_LEFT, className="chat-usage-left", role="status"),  # what is left of the limits
        ],
    )


# The first limit that is set is shown, in this order.
LEFT_KEYS = (("messages_today", "leftMessagesToday"), ("tokens_today", "leftTokensToday"),
             ("tokens_month", "leftTokensMonth"))


def left_text(left: dict, strings) -> str:
    """The line to show for quotas.remaining()'s result ('' when nothing is limited)."""
    for key, string in LEFT_KEYS:
        if key in left:
            return strings[string].format(n=left[key])
    return ""


def limits_and_left(auth, user_id, strings):
    """(the user's quotas.Limits, the line saying what is left of them; '' when nothing is limited)."""
    limits = quotas.limits_for(auth.db, user_id, auth.settings)
    return limits, left_text(quotas.remaining(auth.db, user_id, limits), strings) if limits.any else ""

