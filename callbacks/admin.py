"""Admin page callbacks: fill the users table, create users, change one user, and everyone's usage charts. Every
callback checks again that the caller is an admin (the /admin/ routes already answer 404 to everyone else)."""

from datetime import datetime, timezone

from dash import ALL, Input, Output, State, ctx, no_update

from chatcore.store import usage, users
from chatcore.strings import STRINGS
from callbacks import usage_charts
from components import admin, ids


def register(app, auth, current_language):
    """Wire the admin page to the store."""
    db = auth.db
    usage_charts.register(app, auth, current_language, everyone=True)

    def admin_or_none():
        """The signed-in admin, or None."""
        user = auth.resolve()
        return user if user and user["is_admin"] else None

    @app.callback(Output(ids.ADMIN_USERS, "data"), Output(ids.ADMIN_USER_SELECT, "options"),
                  Input(ids.ADMIN_REFRESH, "data"))
    def fill_users(_refresh):
        """Users with today's and this month's usage, and the choices of the actions form."""
        if admin_or_none() is None:
            return no_update, no_update
        everyone = usage.users_with_usage(db, datetime.now(timezone.utc))
        return (admin.user_rows(everyone, STRINGS[current_language()]),
                [{"label": u["name"], "value": u["id"]} for u in everyone])

    @app.callback(Output(ids.ADMIN_MESSAGE, "children", allow_duplicate=True),
                  Output(ids.ADMIN_REFRESH, "data", allow_duplicate=True),
                  Input(ids.ADMIN_CREATE, "nClicks"), State(ids.ADMIN_NEW_NAME, "value"),
                  State(ids.ADMIN_NEW_PASSWORD, "value"), State(ids.ADMIN_NEW_IS_ADMIN, "checked"),
                  State(ids.ADMIN_REFRESH, "data"), prevent_initial_call=True)
    def create(_clicks, name, password, is_admin, refresh):
        """Create the user from the form."""
        if admin_or_none() is None:
            return no_update, no_update
        try:
            users.add_user(db, name or "", password or "", bool(is_admin))
        except users.UserError as exc:
            return str(exc), no_update
        return STRINGS[current_language()]["adminDone"], refresh + 1

    @app.callback(Output(ids.ADMIN_MESSAGE, "children", allow_duplicate=True),
                  Output(ids.ADMIN_REFRESH, "data", allow_duplicate=True),
                  Input({"type": ids.ADMIN_ACTION, "action": ALL}, "nClicks"), State(ids.ADMIN_USER_SELECT, "value"),
                  State(ids.ADMIN_RESET_PASSWORD, "value"), State(ids.ADMIN_REFRESH, "data"), prevent_initial_call=True)
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
