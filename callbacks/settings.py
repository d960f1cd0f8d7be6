"""Settings callbacks: open the drawer, remember every value, presets, language and theme (all clientside)."""

from dash import ClientsideFunction, Input, Output


def register(app):
    """Wire the settings drawer to the `chat` clientside namespace."""
    app.clientside_callback(ClientsideFunction("chat", "openSettings"), Output("settings-drawer", "visible"),
                            Input("settings-open", "nClicks"), prevent_initial_call=True)
    app.clientside_callback(
        ClientsideFunction("chat", "track"),
        Input("multi-round-switch", "checked"),
        Input("model-select", "value"),
        Input("settings-system-prompt", "value"),
        Input("settings-temperature", "value"),
        Input("settings-max-tokens", "value"),
        Input("settings-history-turns", "value"),
        Input("settings-theme", "value"),
    )
    app.clientside_callback(ClientsideFunction("chat", "preset"), Output("settings-system-prompt", "value"),
                            Input("settings-preset", "value"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "language"), Input("settings-language", "value"),
                            prevent_initial_call=True)
