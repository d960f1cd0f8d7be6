"""The top bar: title, model picker, the multi-turn switch, export, clear and the language link."""

import feffery_antd_components as fac
from dash import html


def render(strings, settings, lang_link):
    """The header; every control keeps its contract id."""
    model_options = [{"label": m, "value": m} for m in settings.models]
    return html.Header(
        className="chat-header",
        children=[
            html.Div([html.H1(strings["title"], className="chat-title"),
                      html.Span(strings["subtitle"], className="chat-subtitle")], className="chat-brand"),
            html.Div(
                className="chat-toolbar",
                children=[
                    fac.AntdSelect(id="model-select", options=model_options, value=settings.default_model,
                                   allowClear=False, className="chat-model-select", popupMatchSelectWidth=False,
                                   **{"aria-label": strings["model"]}),
                    fac.AntdTooltip(
                        html.Label([fac.AntdSwitch(id="multi-round-switch", checked=True),
                                    html.Span(strings["multiTurn"])], className="chat-switch-label"),
                        title=strings["multiTurnHelp"]),
                    fac.AntdButton(strings["export"], id="export-markdown", icon=fac.AntdIcon(icon="antd-download")),
                    fac.AntdButton(strings["clear"], id="clear-conversation", icon=fac.AntdIcon(icon="antd-clear")),
                    html.A(strings["switchLanguage"], href=lang_link, className="chat-lang-link"),
                ],
            ),
        ],
    )
