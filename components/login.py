"""The sign-in page (AUTH=password), which also creates the first (admin) account while there is none."""

import feffery_antd_components as fac
from dash import dcc, html


def render(strings, setup):
    """A centred form with the contract ids; `setup` makes it the first-account form."""
    return html.Main(className="login-page", children=[
        html.Div(className="login-card", children=[
            html.H1(strings["setupTitle" if setup else "loginTitle"], className="login-title"),
            html.P(strings["setupHint"], className="login-hint") if setup else None,
            fac.AntdInput(id="login-username", placeholder=strings["loginUsername"], size="large",
                          **{"aria-label": strings["loginUsername"]}),
            fac.AntdInput(id="login-password", mode="password", placeholder=strings["loginPassword"], size="large",
                          **{"aria-label": strings["loginPassword"]}),
            fac.AntdButton(strings["setupSubmit" if setup else "loginSubmit"], id="login-submit", type="primary",
                           block=True, size="large"),
            html.Div(id="login-message", className="login-message", role="alert"),
            dcc.Store(id="login-setup", data=setup),
            dcc.Location(id="login-location", refresh=True),
        ]),
    ])
