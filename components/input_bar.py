"""The input bar: the edit banner, the message box, send and stop."""

import feffery_antd_components as fac
from dash import html


def render(strings, left=""):
    """A growing text area (Enter sends: assets/chat.js).

    No `maxLength` here on purpose: the browser would silently cut a long paste; sending refuses instead and
    keeps every character in the box.
    """
    return html.Footer(
        className="chat-input-bar",
        children=[
            html.Div(id="chat-edit-banner", className="chat-edit-banner", hidden=True, children=[
                html.Span(id="chat-edit-text"),
                html.Button(strings["cancelEdit"], id="chat-edit-cancel", className="chat-link-button"),
            ]),
            html.Div(className="chat-input-row", children=[
                fac.AntdInput(id="chat-input", className="chat-input", mode="text-area", value="",
                              autoSize={"minRows": 1, "maxRows": 8}, placeholder=strings["placeholder"],
                              autoFocus=True),
                fac.AntdButton(strings["send"], id="chat-send", type="primary", icon=fac.AntdIcon(icon="antd-send")),
                fac.AntdButton(strings["stop"], id="chat-stop", danger=True, style={"display": "none"},
                               icon=fac.AntdIcon(icon="antd-pause-circle")),
            ]),
            html.Div(left, id="usage-left", className="chat-usage-left", role="status"),  # what is left of the limits
        ],
    )
