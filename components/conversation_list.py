"""The conversation list: a sider on desktop, a slide-in drawer on phones, plus its rename/delete dialogs."""

import feffery_antd_components as fac
from dash import dcc, html

from chatcore.store import conversations
from components import ids
from components.header import button

LIST_LIMIT = 200  # the newest conversations listed; search finds the others


def items(db, user_id, current_id, query, strings):
    """(the list items, a signature of what they show) for the user's conversations, newest first, matching the
    search when there is one. Items are `.conv-item[data-id]`; chat.js turns their clicks into `conv-pick` and
    `conv-pending`. An unchanged signature means the list need not be sent again."""
    query = (query or "").strip()
    found = conversations.list_conversations(db, user_id, query, limit=LIST_LIMIT) if user_id else []
    signature = [current_id, query, [(c["id"], c["title"], c["updated_at"]) for c in found]]
    if not found:
        return [html.Div(strings["noMatches" if query else "noConversations"], className="conv-empty")], signature

    def item(c):
        """One conversation: its title, rename and delete."""
        title = c["title"] or strings["newChat"]
        active = " conv-item--active" if c["id"] == current_id else ""
        return html.Div([
            html.Div(title, className="conv-item-title"),
            html.Div([html.Button(className=f"chat-icon-button chat-icon-{icon} conv-{kind}", title=strings[label],
                                  **{"aria-label": strings[label], "data-id": c["id"]})
                      for kind, icon, label in (("rename", "edit", "rename"), ("delete", "delete", "delete"))],
                     className="conv-item-actions"),
        ], className="conv-item" + active, title=title, **{"data-id": c["id"]})

    return [item(c) for c in found], signature

def render(strings, listed):
    """New chat, search and the list; `listed` is items()' result for the page load (callbacks redraw it)."""
    return html.Aside(
        id=ids.SIDER,
        className="chat-sider",
        **{"aria-label": strings["conversations"]},
        children=[
            button(strings["newChat"], ids.NEW_CHAT, "plus", text_hides=False),
            # Sent once typing pauses; a search field has its own clear button.
            dcc.Input(id=ids.SEARCH, type="search", placeholder=strings["searchPlaceholder"], value="",
                      debounce=0.15, className="chat-field conv-search"),
            html.Nav(id=ids.LIST, className="conv-list", children=listed[0]),
            dcc.Store(id=ids.LIST_SIG, data=listed[1]),  # what the list shows: an unchanged list is not sent again
            dcc.Store(id=ids.PICK),  # {id}: the item chat.js saw clicked
            dcc.Store(id=ids.PENDING),  # {id, action}: the item whose rename or delete was clicked
            dcc.Store(id=ids.CHANGED),  # bumped when a rename, delete or import changed the list
        ],
    )


def dialogs(strings):
    """The rename and delete-confirm dialogs, shared by every list item (drawn once fac is loaded)."""
    return [
        fac.AntdModal(
            fac.AntdInput(id=ids.RENAME_INPUT, maxLength=100),
            id=ids.RENAME_MODAL, title=strings["renameTitle"], visible=False, renderFooter=True,
            okText=strings["ok"], cancelText=strings["cancel"],
        ),
        fac.AntdModal(
            html.Div(id=ids.DELETE_TEXT),
            id=ids.DELETE_MODAL, title=strings["deleteTitle"], visible=False, renderFooter=True,
            okText=strings["delete"], cancelText=strings["cancel"], okButtonProps={"danger": True},
        ),
    ]
