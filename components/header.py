"""The top bar: the list toggle (phones), title, the multi-turn switch, export, clear and settings."""

import feffery_antd_components as fac
from dash import html

from components import ids



def render(strings, multi_turn, user=None):
    """The header; every control keeps its contract id. With a signed-in account, its name and Sign out."""
    return html.Header(
        className="chat-header",
        children=[
            html.Div([
                fac.AntdButton(id=ids.SIDER_TOGGLE, type="text", icon=fac.AntdIcon(icon="antd-menu"),
                               className="chat-sider-toggle", **{"aria-label": strings["conversations"]}),
                html.H1(strings["title"], id=ids.TITLE, className="chat-title"),
                html.Span(strings["subtitle"], className="chat-subtitle"),
            ], className="chat-brand"),
            html.Div(
                className="chat-toolbar",
                children=[
                    fac.AntdTooltip(
                        html.Label([fac.AntdSwitch(id=ids.MULTI_TURN, checked=multi_turn),
                                    html.Span(strings["multiTurn"], className="chat-button-text")],
                                   className="chat-switch-label"),
                        title=strings["multiTurnHelp"]),
                    _button(strings["export"], ids.EXPORT_MARKDOWN, "antd-download"),
                    _button(strings["exportJson"], ids.EXPORT_JSON, "antd-file-text"),
                    _button(strings["clear"], ids.CLEAR, "antd-clear"),
                    _button(strings["settings"], ids.SETTINGS_OPEN, "antd-setting"),
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
    page_link = (html.A(strings["adminTitle"], id=ids.ADMIN_LINK, href="/admin/", className="chat-account")
                 if user["is_admin"] else
                 html.A(strings["myUsage"], id=ids.USAGE_LINK, href="/usage/", className="chat-account"))
    # A plain form post: sign-out needs no callback on the chat page.
    sign_out = html.Form(html.Button(strings["logout"], id=ids.LOGOUT, type="submit", className="chat-logout"),
                         action="/logout", method="POST", className="chat-logout-form")
    return [html.Span(user["name"], id=ids.ACCOUNT, className="chat-account"),
            page_link, sign_out]
