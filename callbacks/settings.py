"""Settings callbacks: open the drawer, save every change for the user, presets, language and theme."""

from dash import ClientsideFunction, Input, Output, ctx, no_update

from chatcore.store import users
from chatcore.strings import PRESETS
from components import ids
from components.settings import CONTROLS, multi_turn_on

DRAWER = {key: control for key, control in CONTROLS.items() if key != "multiTurn"}


def register(app, page):
    """Wire the settings drawer."""
    # Not run before the drawer is drawn (its output is missing); Dash runs it once as the drawer is drawn (an
    # initial call: its output arrives), so a click made before that opens the drawer then.
    app.clientside_callback("(n) => n ? true : window.dash_clientside.no_update",
                            Output(ids.SETTINGS_DRAWER, "visible"), Input(ids.SETTINGS_OPEN, "n_clicks"))

    def save(changed):
        """Keep the user's settings in the store: every browser of theirs starts with them."""
        user_id = page.user_id()
        if user_id:
            users.save_settings(page.db, user_id, {**users.get_settings(page.db, user_id), **changed})

    @app.callback(Input(ids.MULTI_TURN, "value"), prevent_initial_call=True)
    def save_multi_turn(value):
        """The header's switch (drawn with the first screen, before the drawer)."""
        save({"multiTurn": multi_turn_on(value)})

    @app.callback(*(Input(component, prop) for component, prop in DRAWER.values()), prevent_initial_call=True)
    def save_drawer(*values):
        """The drawer's controls (a person changes one at a time; all of them fire when the drawer is drawn)."""
        if len(ctx.triggered) > 1:
            return
        saved = dict(zip(DRAWER, values))
        if saved["model"] not in page.settings.models and saved["model"] is not None:
            saved["model"] = None  # only an offered model is kept
        save(saved)

    @app.callback(Output(ids.SYSTEM_PROMPT, "value"), Input(ids.PRESET, "value"),
                  prevent_initial_call=True)
    def preset(name):
        """A preset fills in the system prompt ('none' empties it)."""
        if not name:
            return no_update
        return "" if name == "none" else PRESETS[page.language()][name]

    app.clientside_callback(ClientsideFunction("chat", "language"), Input(ids.LANGUAGE, "value"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "theme"), Output(ids.DARK, "data"), Input(ids.THEME, "value"),
                            prevent_initial_call=True)
    # The drawer and the dialogs follow (once drawn: they are drawn with the theme of their moment).
    app.clientside_callback("(dark) => dark ? 'dark' : 'default'", Output(ids.APP_THEME, "algorithm"),
                            Input(ids.DARK, "data"), prevent_initial_call=True)
