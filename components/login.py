"""The sign-in page (AUTH=password), which also creates the first (admin) account while there is none."""

import feffery_antd_components as fac
from dash import dcc, html

from components import ids


def render(strings, setup):
    """A centred form with the contract ids; `setup` makes it the first-account form."""
    return html.Main(className="login-page", children=[
        html.Div(className="login-card", children=[
            html.H1(strings["setupTitle" if setup else "loginTitle"], className="login-title"),
            html.P(strings["setupHint"], className="login-hint") if setup else None,
            fac.AntdInput(id=ids.LOGIN_USERNAME, placeholder=strings["loginUsername"], size="large",
                          **{"aria-label": strings["loginUsername"]}),
            fac.AntdInput(id=ids.LOGIN_PASSWORD, mode="password", placeholder=strings["loginPassword"], size="large",
                          **{"aria-label": strings["loginPassword"]}),
            fac.AntdButton(strings["setupSubmit" if setup else "loginSubmit"], id=ids.LOGIN_SUBMIT, type="primary",
                           block=True, size="large"),
            html.Div(id=ids.LOGIN_MESSAGE, className="login-message", role="alert"),
            dcc.Store(id=ids.LOGIN_SETUP, data=setup),
            dcc.Location(id=ids.LOGIN_LOCATION, refresh=True),
        ]),
    ])
