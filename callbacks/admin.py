"""Admin page callbacks: fill the table and the charts, create users, and change one user. Every callback checks
again that the caller is an admin (the /admin/ routes already answer 404 to everyone else)."""

import time
from datetime import datetime, timezone

from dash import ALL, Input, Output, State, ctx, no_update

from chatcore.store import usage, users
from chatcore.strings import STRINGS
from components import admin
from web.conversations import USAGE_DAYS



def register(app, auth, current_language):
    """Wire the admin page to the store."""
    db = auth.db

    def admin_or_none():
        """The signed-in admin, or None."""
        user = auth.resolve()
        return user if user and user["is_admin"] else None

    @app.callback(Output("admin-users", "data"), Output("admin-user-select", "options"),
                  Output("admin-chart-users", "figure"), Output("admin-chart-models", "figure"),
                  Output("admin-chart-hours", "figure"), Output("admin-heaviest", "data"),
                  Output("admin-estimated", "children"),
                  Input("admin-refresh", "data"), Input("admin-theme-switch", "value"))
    def fill(_refresh, theme):
        """Users with today's and this month's usage, and the last 30 days of charts."""
        viewer = admin_or_none()
        if viewer is None:
            return [no_update] * 7
        strings = STRINGS[current_language()]
        everyone = usage.users_with_usage(db, datetime.now(timezone.utc))
        report = usage.report(db, int((time.time() - USAGE_DAYS * 86400) * 1000))
        return (admin.user_rows(everyone, strings), [{"label": u["name"], "value": u["id"]} for u in everyone],
                *admin.charts(report, strings, theme), admin.heaviest_rows(report, viewer["id"], strings),
                strings["usageEstimated"] if report["estimated"] else "")

    @app.callback(Output("admin-page", "className"), Output("admin-theme", "algorithm"),
                  Input("admin-theme-switch", "value"))
    def theme(value):
        """Light or dark page (the charts follow in `fill`)."""
        return ("admin-page admin-dark", "dark") if value == "dark" else ("admin-page", "default")

    @app.callback(Output("admin-message", "children", allow_duplicate=True),
                  Output("admin-refresh", "data", allow_duplicate=True),
                  Input("admin-create", "nClicks"), State("admin-new-name", "value"),
                  State("admin-new-password", "value"), State("admin-new-is-admin", "checked"),
                  State("admin-refresh", "data"), prevent_initial_call=True)
    def create(_clicks, name, password, is_admin, refresh):
        """Create the user from the form."""
        if admin_or_none() is None:
            return no_update, no_update
        try:
            users.add_user(db, name or "", password or "", bool(is_admin))
        except users.UserError as exc:
            return str(exc), no_update
        return STRINGS[current_language()]["adminDone"], refresh + 1

    @app.callback(Output("admin-message", "children", allow_duplicate=True),
                  Output("admin-refresh", "data", allow_duplicate=True),
                  Input({"type": "admin-action", "action": ALL}, "nClicks"), State("admin-user-select", "value"),
                  State("admin-reset-password", "value"), State("admin-refresh", "data"), prevent_initial_call=True)
    def change(_clicks, user_id, password, refresh):
        """Apply the clicked action to the chosen user (never the last enabled admin)."""
        if admin_or_none() is None or not user_id or not ctx.triggered_id:
            return no_update, no_update
        action = ctx.triggered_id["action"]
        try:
            if action == "password":
                users.set_password(db, user_id, password or "")
            elif users.update_user(db, user_id, **users.CHANGES[action]) is None:
                return no_update, no_update
        except users.UserError as exc:
            return str(exc), no_update
        return STRINGS[current_language()]["adminDone"], refresh + 1
