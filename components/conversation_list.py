"""The conversation list: a sider on desktop, a slide-in drawer on phones, plus its rename/delete dialogs."""

import feffery_antd_components as fac
from dash import dcc, html

LIST_LIMIT = 200  # the newest conversations listed; search finds the others

def render(strings):
    """New chat, search and the list (drawn from the store by callbacks/conversation.py)."""
    return html.Aside(
        id="conv-sider",
        className="chat-sider",
        **{"aria-label": strings["conversations"]},
        children=[
            fac.AntdButton(strings["newChat"], id="conv-new", block=True, icon=fac.AntdIcon(icon="antd-plus")),
            fac.AntdInput(id="conv-search", placeholder=strings["searchPlaceholder"], allowClear=True,
                          debounceWait=150, className="conv-search"),
            html.Nav(id="conv-list", className="conv-list", children=[]),
            dcc.Store(id="conv-list-sig"),  # what the list shows now: an unchanged list is not sent again
            dcc.Store(id="conv-pick"),  # {id}: the item chat.js saw clicked
            dcc.Store(id="conv-pending"),  # {id, action}: the item whose rename or delete was clicked
            dcc.Store(id="conv-changed"),  # bumped when a rename, delete or import changed the list
        ],
    )


def dialogs(strings):
    """The rename and delete-confirm dialogs, shared by every list item."""
    return [
        fac.AntdModal(
            fac.AntdInput(id="conv-rename-input", maxLength=100),
            id="conv-rename-modal", title=strings["renameTitle"], visible=False, renderFooter=True,
            okText=strings["ok"], cancelText=strings["cancel"],
        ),
        fac.AntdModal(
            html.Div(id="conv-delete-text"),
            id="conv-delete-modal", title=strings["deleteTitle"], visible=False, renderFooter=True,
            okText=strings["delete"], cancelText=strings["cancel"], okButtonProps={"danger": True},
        ),
    ]
