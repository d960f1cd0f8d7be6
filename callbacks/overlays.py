"""Draw the settings drawer and the dialogs once feffery-antd-components is loaded (after the first screen)."""

from dash import Input, Output, State, no_update

from components import ids, overlays


def register(app, page):
    """Wire the overlays' one drawing."""

    @app.callback(
        Output(ids.OVERLAYS, "children"), Input(ids.ANTD, "data"), State(ids.DARK, "data"),
        prevent_initial_call=True,
    )
    def draw(loaded, dark):
        """The drawer with the user's settings, and the dialogs (what was clicked before they existed opens once
        they are drawn: callbacks/settings.py, callbacks/conversation.py)."""
        if not loaded:
            return no_update
        signed_in = page.auth.resolve()
        ask_code = signed_in is None and page.auth.mode == "none"  # ACCESS_CODE set, no code given yet
        return overlays.render(page.strings, page.language(), bool(dark), page.providers.models(),
                               page.preferences(signed_in and signed_in["id"]), ask_code)
