"""Draw the settings drawer and the dialogs once feffery-antd-components is loaded (after the first screen)."""

from dash import Input, Output, State, no_update
from werkzeug.exceptions import NotFound

from callbacks.conversation import dialogs_for
from components import ids, overlays


def register(app, page):
    """Wire the overlays' one drawing."""

    @app.callback(
        Output(ids.OVERLAYS, "children"), Input(ids.ANTD, "data"), State(ids.DARK, "data"),
        State(ids.PENDING, "data"), State(ids.SETTINGS_OPEN, "n_clicks"), prevent_initial_call=True,
    )
    def draw(loaded, dark, pending, settings_clicks):
        """The drawer with the user's settings, and the dialogs; what was clicked before they existed opens now."""
        if not loaded:
            return no_update
        signed_in = page.auth.resolve()
        user_id = signed_in and signed_in["id"]
        ask_code = signed_in is None and page.auth.mode == "none"  # ACCESS_CODE set, no code given yet
        try:
            dialogs = dialogs_for(page, pending) if pending and user_id else None
        except NotFound:  # deleted meanwhile: the drawer and dialogs are drawn all the same, closed
            dialogs = None
        return overlays.render(page.strings, page.language(), bool(dark), page.providers.models(),
                               page.preferences(user_id), ask_code, dialogs or (False, "", False, ""),
                               bool(settings_clicks))
