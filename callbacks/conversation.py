"""Conversation-list callbacks: new, search, rename, delete, the phone drawer, JSON export and import.

All clientside: conversations live in the browser (IndexedDB), so none of this needs the server.
"""

from dash import ClientsideFunction, Input, Output, State


def register(app):
    """Wire the list controls to the `chat` clientside namespace."""
    for action, button in (("newChat", "conv-new"), ("exportJson", "export-json"), ("backup", "backup-export")):
        app.clientside_callback(ClientsideFunction("chat", action), Input(button, "nClicks"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "search"), Input("conv-search", "debounceValue"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "rename"), Input("conv-rename-modal", "okCounts"),
                            State("conv-rename-input", "value"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "remove"), Input("conv-delete-modal", "okCounts"),
                            prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "toggleSider"), Output("chat-shell", "className"),
                            Input("conv-toggle", "nClicks"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("chat", "importFile"), Input("backup-import", "contents"),
                            prevent_initial_call=True)
