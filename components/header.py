"""The top bar: the list toggle (phones), title, the multi-turn switch, export, clear and settings.

Plain HTML and dcc, like the rest of the first screen: it is drawn before feffery-antd-components is loaded."""

from dash import dcc, html

from components import ids
from components.settings import ON


def render(strings, multi_turn, user=None):
    """The header; every control keeps its contract id. With a signed-in account, its name and Sign out."""
    return html.Header(
        className="chat-header",
        children=[
            html.Div([
                html.Button(id=ids.SIDER_TOGGLE, className="chat-icon-button chat-icon-menu chat-sider-toggle",
                            title=strings["conversations"], **{"aria-label": strings["conversations"]}),
                html.H1(strings["title"], id=ids.TITLE, className="chat-title"),
                html.Span(strings["subtitle"], className="chat-subtitle"),
            ], className="chat-brand"),
            html.Div(
                className="chat-toolbar",
                children=[
                    # A checkbox drawn as a switch (assets/style.css); clicking its label toggles it.
                    html.Div(dcc.Checklist(
                        id=ids.MULTI_TURN, value=[ON] if multi_turn else [], labelClassName="chat-switch-label",
                        options=[{"label": html.Span(strings["multiTurn"], className="chat-button-text"), "value": ON}],
                    ), className="chat-switch", title=strings["multiTurnHelp"]),
                    button(strings["export"], ids.EXPORT_MARKDOWN, "download"),
                    button(strings["exportJson"], ids.EXPORT_JSON, "file"),
                    button(strings["clear"], ids.CLEAR, "clear"),
                    button(strings["settings"], ids.SETTINGS_OPEN, "setting"),
                    *(_account(strings, user) if user else []),
                ],
            ),
        ],
    )


def button(label, button_id, icon, kind="", text_hides=True, **props):
    """A button with an icon (assets/style.css `.chat-icon-<icon>`); its text hides on narrow screens unless
    `text_hides` is false, the icon and the tooltip stay. `kind`: '', 'primary' or 'danger'."""
    return html.Button(html.Span(label, className="chat-button-text" if text_hides else None), id=button_id,
                       className=f"chat-button chat-icon-{icon}" + (f" chat-button--{kind}" if kind else ""),
                       title=label, type="button", **{"aria-label": label}, **props)


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
