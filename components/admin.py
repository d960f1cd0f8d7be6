"""The admin page (/admin/, admins only): users with their usage and account actions, then the usage charts."""

from datetime import datetime, timezone

import feffery_antd_components as fac
from dash import dcc, html

from components import ids, usage_charts


def render(strings, lang):
    """The page: users, account actions, then the usage charts (filled by callbacks/admin.py)."""
    return usage_charts.page(strings, lang, strings["adminTitle"], [
        html.H2(strings["adminUsers"]),
        fac.AntdTable(id=ids.ADMIN_USERS, columns=[
            {"title": strings[key], "dataIndex": key} for key in
            ("adminName", "adminRole", "adminStatus", "adminLastSeen", "adminToday", "adminMonth")],
            data=[], pagination=False, bordered=True, size="small"),
        html.Div(className="admin-forms", children=[
            html.Div(className="admin-form", children=[
                html.H3(strings["adminNewUser"]),
                fac.AntdInput(id=ids.ADMIN_NEW_NAME, placeholder=strings["adminName"]),
                fac.AntdInput(id=ids.ADMIN_NEW_PASSWORD, mode="password", placeholder=strings["adminPassword"]),
                fac.AntdCheckbox(id=ids.ADMIN_NEW_IS_ADMIN, label=strings["adminMakeAdminBox"]),
                fac.AntdButton(strings["adminCreate"], id=ids.ADMIN_CREATE, type="primary"),
            ]),
            html.Div(className="admin-form", children=[
                html.H3(strings["adminPickUser"]),
                fac.AntdSelect(id=ids.ADMIN_USER_SELECT, options=[], placeholder=strings["adminPickUser"]),
                fac.AntdInput(id=ids.ADMIN_RESET_PASSWORD, mode="password", placeholder=strings["adminPassword"]),
                fac.AntdSpace([fac.AntdButton(strings[key], id={"type": ids.ADMIN_ACTION, "action": action})
                               for key, action in (("adminResetPassword", "password"), ("adminDisable", "disable"),
                                                   ("adminEnable", "enable"), ("adminMakeAdmin", "admin"),
                                                   ("adminUnmakeAdmin", "unadmin"))], wrap=True),
            ]),
        ]),
        html.Div(id=ids.ADMIN_MESSAGE, className="admin-message", role="status"),
        dcc.Store(id=ids.ADMIN_REFRESH, data=0),
        *usage_charts.section(strings),
    ])


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
