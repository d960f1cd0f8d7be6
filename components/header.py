"""The top bar: the list toggle (phones), title, the multi-turn switch, export, clear and settings."""

import feffery_antd_components as fac
from dash import html



def render(strings, multi_turn, user=None):
    """The header; every control keeps its contract id. With a signed-in account, its name and Sign out."""
    return html.Header(
        className="chat-header",
        children=[
            html.Div([
                fac.AntdButton(id="conv-toggle", type="text", icon=fac.AntdIcon(icon="antd-menu"),
                               className="chat-sider-toggle", **{"aria-label": strings["conversations"]}),
                html.H1(strings["title"], id="chat-title", className="chat-title"),
                html.Span(strings["subtitle"], className="chat-subtitle"),
            ], className="chat-brand"),
            html.Div(
                className="chat-toolbar",
                children=[
                    fac.AntdTooltip(
                        html.Label([fac.AntdSwitch(id="multi-round-switch", checked=multi_turn),
                                    html.Span(strings["multiTurn"], className="chat-button-text")],
                                   className="chat-switch-label"),
                        title=strings["multiTurnHelp"]),
                    _button(strings["export"], "export-markdown", "antd-download"),
                    _button(strings["exportJson"], "export-json", "antd-file-text"),
                    _button(strings["clear"], "clear-conversation", "antd-clear"),
                    _button(strings["settings"], "settings-open", "antd-setting"),
                    *(_account(strings, user) if user else []),
                ],
            ),
        ],
    )


def _button(label, button_id, icon):
    """A toolbar button whose text hides on narrow screens (the icon and tooltip stay)."""
    return fac.AntdTooltip(fac.AntdButton(html.Span(label, className="chat-button-text"), id=button_id,
                                          icon=fac.AntdIcon(icon=icon), **{"aria-label": label}), title=label)


def _account(strings, user):
    """The signed-in user's name, the admin page for admins, and the sign-out button."""
    # Admins see everyone's usage on the admin page; everyone else their own on the usage page.
    page_link = (html.A(strings["adminTitle"], id="admin-link", href="/admin/", className="chat-account")
                 if user["is_admin"] else
                 html.A(strings["myUsage"], id="usage-link", href="/usage/", className="chat-account"))
    # A plain form post: sign-out needs no callback on the chat page.
    sign_out = html.Form(html.Button(strings["logout"], id="logout-button", type="submit", className="chat-logout"),
                         action="/logout", method="POST", className="chat-logout-form")
    return [html.Span(user["name"], id="account-name", className="chat-account"),
            page_link, sign_out]
