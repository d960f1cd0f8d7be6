"""Chat callbacks: thin clientside hooks into assets/chat.js (streaming never round-trips through Dash)."""

from dash import ClientsideFunction, Input, Output, State


def register(app):
    """Wire the chat controls to the `chat` clientside namespace."""
    app.clientside_callback(
        ClientsideFunction("chat", "init"),
        Input("chat-config", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("chat", "send"),
        Output("chat-input", "value"),
        Input("chat-send", "nClicks"),
        State("chat-input", "value"),
        prevent_initial_call=True,
    )
    for action, button in (("stop", "chat-stop"), ("clear", "clear-conversation")):
        app.clientside_callback(
            ClientsideFunction("chat", action),
            Input(button, "nClicks"),
            prevent_initial_call=True,
        )
    app.clientside_callback(
        ClientsideFunction("chat", "saveAccessCode"),
        Output("access-code-modal", "visible"),
        Input("access-code-modal", "okCounts"),
        State("access-code-input", "value"),
        prevent_initial_call=True,
    )
