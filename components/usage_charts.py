"""Usage charts, shared by the admin page (everyone's usage) and the usage page (one's own): a page shell with a
light/dark switch, and the charts section with its figures."""

import feffery_antd_components as fac
import plotly.graph_objects as go
from dash import dcc, html

from components import ids

THEMES = {"light": "plotly_white", "dark": "plotly_dark"}
GRAPHS = (ids.USAGE_CHART_USERS, ids.USAGE_CHART_MODELS, ids.USAGE_CHART_HOURS)


def page(strings, lang, title, children):
    """A page of its own (admin, usage): its title, the theme switch, a way back to the chat, then `children`."""
    return fac.AntdConfigProvider(locale=lang.lower(), primaryColor="#1677ff", id=ids.PAGE_THEME, children=html.Main(
        id=ids.PAGE_ROOT, className="admin-page", lang=lang, children=[
            html.Header(className="admin-header", children=[
                html.H1(title),
                fac.AntdSegmented(id=ids.PAGE_THEME_SWITCH, value="light", options=[
                    {"label": strings["themeLight"], "value": "light"},
                    {"label": strings["themeDark"], "value": "dark"}]),
                html.A(strings["backToChat"], href="/", className="admin-back"),
            ]),
            *children,
        ]))


def section(strings):
    """The charts and the heaviest conversations, filled by callbacks/usage_charts.py."""
    return [
        html.P(id=ids.USAGE_ESTIMATED, className="admin-note"),
        html.Div(className="admin-charts", children=[dcc.Graph(id=graph_id, config={"displaylogo": False})
                                                     for graph_id in GRAPHS]),
        html.H2(strings["heaviestConversations"]),
        fac.AntdTable(id=ids.USAGE_HEAVIEST, columns=[
            {"title": strings["adminName"], "dataIndex": "user"}, {"title": strings["title"], "dataIndex": "title"},
            {"title": "tokens", "dataIndex": "tokens"}, {"title": strings["adminAnswers"], "dataIndex": "answers"}],
            data=[], pagination=False, size="small"),
    ]


def own_usage(strings, lang):
    """The usage page (/usage/): the signed-in user's own charts."""
    return page(strings, lang, strings["myUsage"], section(strings))


def _stacked(series, title, theme):
    """A stacked bar chart of {name: {day: tokens}}."""
    figure = go.Figure([go.Bar(name=name, x=sorted(days), y=[days[d] for d in sorted(days)])
                        for name, days in sorted(series.items())])
    return figure.update_layout(barmode="stack", title=title, template=THEMES[theme], height=320,
                                margin={"l": 40, "r": 10, "t": 50, "b": 40})


def charts(report, strings, theme):
    """The three usage figures."""
    hours = go.Figure(go.Bar(x=list(range(24)), y=report["per_hour"]))
    hours.update_layout(title=strings["chartAnswersPerHour"], template=THEMES[theme], height=320,
                        margin={"l": 40, "r": 10, "t": 50, "b": 40})
    return (_stacked(report["per_user"], strings["chartTokensPerUser"], theme),
            _stacked(report["per_model"], strings["chartTokensPerModel"], theme), hours)


def heaviest_rows(report, viewer_id, strings):
    """The heaviest conversations; titles only of the viewer's own conversations, counts for the others'."""
    return [{"key": str(i), "user": e["user"], "tokens": e["tokens"], "answers": e["answers"],
             "title": e["title"] if e["user_id"] == viewer_id else strings["conversationHidden"]}
            for i, e in enumerate(report["heaviest"])]
