"""Settings callbacks: open the drawer, save every change for the user, presets, language and theme."""

from dash import ClientsideFunction, Input, Output, no_update

from chatcore.store import users
from chatcore.strings import PRESETS
from components import ids
from components.settings import CONTROLS


def register(app, page):
    """Wire the settings drawer."""
    app.clientside_callback("(n) => n ? true : window.dash_clientside.no_update",
                            Output(ids.SETTINGS_DRAWER, "visible"), Input(ids.SETTINGS_OPEN, "nClicks"),
                            prevent_initial_call=True)

    @app.callback(*(Input(component, prop) for component, prop in CONTROLS.values()), prevent_initial_call=True)
    def save(*values):
        """Keep the user's settings in the store: every browser of theirs starts with them."""
        user_id = page.user_id()
        if user_id:
            saved = dict(zip(CONTROLS, values))
            if saved["model"] not in page.settings.models and saved["model"] is not None:
                saved["model"] = None  # only an offered model is kept
            users.save_settings(page.db, user_id, saved)

    @app.callback(Output(ids.SYSTEM_PROMPT, "value"), Input(ids.PRESET, "value"),
                  prevent_initial_call=True)
    def preset(name):
        """A preset fills in the system prompt ('none' empties it)."""
        if not name:
            return no_update
        return "" if name == "none" else PRESETS[page.language()][name]

    app.clientside_callback(ClientsideFunction("chat", "language"), Input(ids.LANGUAGE, "value"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "theme"), Output(ids.APP_THEME, "algorithm"),
                            Output(ids.DARK, "data"), Input(ids.THEME, "value"))
