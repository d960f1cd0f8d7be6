"""Export callback: the conversation as a Markdown download (the original app's feature)."""

from datetime import datetime

from dash import Input, Output, State, dcc, no_update

from chatcore.export import conversation_to_markdown, export_filename


def register(app):
    """Wire #export-markdown to a .md download built by the core exporter."""

    @app.callback(
        Output("export-download", "data"),
        Input("export-markdown", "nClicks"),
        State("chat-history", "data"),
        State("model-select", "value"),
        State("chat-config", "data"),
        prevent_initial_call=True,
    )
    def export_markdown(_clicks, history, model, config):
        """Send the conversation as a Markdown file; nothing to export gives nothing."""
        if not history:
            return no_update
        now = datetime.now()
        text = conversation_to_markdown(history, now, model=model or "", lang=config.get("lang", "zh-CN"))
        return dcc.send_string(text, export_filename(now), type="text/markdown")
