"""Export callback: the conversation as a Markdown download (the original app's feature)."""

from datetime import datetime

from dash import ClientsideFunction, Input, Output, State, dcc, no_update

from chatcore.export import conversation_to_markdown, export_filename
from chatcore.strings import DEFAULT_LANGUAGE


def register(app):
    """Wire #export-markdown to a .md download built by the core exporter."""
    app.clientside_callback(ClientsideFunction("chat", "exportMarkdown"), Output("export-request", "data"),
                            Input("export-markdown", "nClicks"), prevent_initial_call=True)

    @app.callback(
        Output("export-download", "data"),
        Input("export-request", "data"),
        State("chat-config", "data"),
        prevent_initial_call=True,
    )
    def export_markdown(conversation, config):
        """Send the current conversation (title, model, messages) as a Markdown file; nothing gives nothing."""
        if not conversation or not conversation.get("messages"):
            return no_update
        now = datetime.now()
        text = conversation_to_markdown(conversation["messages"], now, model=conversation.get("model") or "",
                                        lang=config.get("lang", DEFAULT_LANGUAGE), title=conversation.get("title") or "")
        return dcc.send_string(text, export_filename(now), type="text/markdown")
