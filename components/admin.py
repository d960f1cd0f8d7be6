"""The admin page (/admin/, admins only): users with their usage, account actions, and usage charts."""

from datetime import datetime, timezone

import feffery_antd_components as fac
import plotly.graph_objects as go
from dash import dcc, html

THEMES = {"light": "plotly_white", "dark": "plotly_dark"}


def render(strings, lang):
    """The page shell; the table, the choices and the charts are filled by callbacks/admin.py."""
    return fac.AntdConfigProvider(locale=lang.lower(), primaryColor="#1677ff", id="admin-theme", children=html.Main(
        id="admin-page", className="admin-page", lang=lang, children=[
            html.Header(className="admin-header", children=[
                html.H1(strings["adminTitle"]),
                fac.AntdSegmented(id="admin-theme-switch", value="light", options=[
                    {"label": strings["themeLight"], "value": "light"},
                    {"label": strings["themeDark"], "value": "dark"}]),
                html.A(strings["backToChat"], href="/", className="admin-back"),
            ]),
            html.H2(strings["adminUsers"]),
            fac.AntdTable(id="admin-users", columns=[
                {"title": strings[key], "dataIndex": key} for key in
                ("adminName", "adminRole", "adminStatus", "adminLastSeen", "adminToday", "adminMonth")],
                data=[], pagination=False, bordered=True, size="small"),
            html.Div(className="admin-forms", children=[
                html.Div(className="admin-form", children=[
                    html.H3(strings["adminNewUser"]),
                    fac.AntdInput(id="admin-new-name", placeholder=strings["adminName"]),
                    fac.AntdInput(id="admin-new-password", mode="password", placeholder=strings["adminPassword"]),
                    fac.AntdCheckbox(id="admin-new-is-admin", label=strings["adminMakeAdminBox"]),
                    fac.AntdButton(strings["adminCreate"], id="admin-create", type="primary"),
                ]),
                html.Div(className="admin-form", children=[
                    html.H3(strings["adminPickUser"]),
                    fac.AntdSelect(id="admin-user-select", options=[], placeholder=strings["adminPickUser"]),
                    fac.AntdInput(id="admin-reset-password", mode="password", placeholder=strings["adminPassword"]),
                    fac.AntdSpace([fac.AntdButton(strings[key], id={"type": "admin-action", "action": action})
                                   for key, action in (("adminResetPassword", "password"), ("adminDisable", "disable"),
                                                       ("adminEnable", "enable"), ("adminMakeAdmin", "admin"),
                                                       ("adminUnmakeAdmin", "unadmin"))], wrap=True),
                ]),
            ]),
            html.Div(id="admin-message", className="admin-message", role="status"),
            html.P(id="admin-estimated", className="admin-note"),
            html.Div(className="admin-charts", children=[
                dcc.Graph(id=graph_id, config={"displaylogo": False}) for graph_id in
                ("admin-chart-users", "admin-chart-models", "admin-chart-hours")]),
            html.H2(strings["heaviestConversations"]),
            fac.AntdTable(id="admin-heaviest", columns=[
                {"title": strings["adminName"], "dataIndex": "user"}, {"title": strings["title"], "dataIndex": "title"},
                {"title": "tokens", "dataIndex": "tokens"}, {"title": strings["adminAnswers"], "dataIndex": "answers"}],
                data=[], pagination=False, size="small"),
            dcc.Store(id="admin-refresh", data=0),
        ]))


def _time(ms):
    """A timestamp for the table (UTC, minutes)."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M") if ms else "—"


def user_rows(users, strings):
    """The users table's rows."""
    return [{"key": u["id"], "adminName": u["name"], "adminRole": strings["roleAdmin" if u["is_admin"] else "roleUser"],
             "adminStatus": strings["statusDisabled" if u["disabled"] else "statusActive"],
             "adminLastSeen": _time(u["last_seen_at"]),
             "adminToday": f'{u["messages_today"]} / {u["tokens_today"]}',
             "adminMonth": f'{u["messages_month"]} / {u["tokens_month"]}'} for u in users]


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
    """The heaviest conversations; titles only of the admin's own conversations, counts for the others'."""
    return [{"key": str(i), "user": e["user"], "tokens": e["tokens"], "answers": e["answers"],
             "title": e["title"] if e["user_id"] == viewer_id else strings["conversationHidden"]}
            for i, e in enumerate(report["heaviest"])]
