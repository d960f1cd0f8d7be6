"""Export callback: the conversation on screen as a Markdown download (the original app's feature)."""

from datetime import datetime

from dash import Input, Output, State, dcc, no_update

from chatcore.export import conversation_to_markdown, export_filename
from components import ids


def register(app, page):
    """Wire #export-markdown to a .md download built by the core exporter."""

    @app.callback(Output(ids.DOWNLOAD, "data"), Input(ids.EXPORT_MARKDOWN, "n_clicks"),
                  State(ids.CURRENT, "data"), prevent_initial_call=True)
    def export_markdown(_clicks, current):
        """The current conversation (title, model, messages) as a Markdown file; an empty one gives nothing."""
        found = page.conversation((current or {}).get("id"))
        if not found or not found["messages"]:
            return no_update
        now = datetime.now()
        model = next((m["model"] for m in reversed(found["messages"]) if m.get("model")), "")
        text = conversation_to_markdown(found["messages"], now, model=model, lang=page.language(), title=found["title"])
        return dcc.send_string(text, export_filename(now), type="text/markdown")
