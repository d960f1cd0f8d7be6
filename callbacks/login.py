"""Sign in and create the first account: server callbacks of the sign-in page over web/auth.py."""

from dash import Input, Output, State, no_update

from chatcore.errors import ChatError
from chatcore.store import users
from chatcore.strings import STRINGS
from components import ids


def register(app, auth, current_language):
    """Wire the sign-in form to `auth`."""

    @app.callback(Output(ids.LOGIN_MESSAGE, "children"), Output(ids.LOGIN_LOCATION, "href"),
                  Input(ids.LOGIN_SUBMIT, "nClicks"), Input(ids.LOGIN_PASSWORD, "nSubmit"),
                  State(ids.LOGIN_USERNAME, "value"), State(ids.LOGIN_PASSWORD, "value"),
                  State(ids.LOGIN_SETUP, "data"),
                  prevent_initial_call=True)
    def sign_in(_clicks, _submits, name, password, setup):
        """Check the form; on success the session cookie rides on this response and the page reloads."""
        strings = STRINGS[current_language()]
        if not name or not password:
            return strings["loginMissing"], no_update
        try:
            if setup:
                user = users.add_first_user(auth.db, name, password) if auth.needs_setup() else None
                if user is None:  # someone else was first: sign in normally
                    return strings["loginFailed"], "/"
                auth.start_session(user)
            else:
                auth.login(name, password)
        except users.UserError as exc:
            return str(exc), no_update
        except ChatError as exc:
            return strings["loginThrottled" if exc.status == 429 else "loginFailed"], no_update
        return "", "/"
