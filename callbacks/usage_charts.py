"""Usage chart callbacks, for the admin page (everyone's usage) and the usage page (the viewer's own)."""

import time

from dash import Input, Output, no_update

from chatcore.store import usage
from chatcore.strings import STRINGS
from components import ids, usage_charts


def register(app, auth, current_language, everyone):
    """Fill the charts for the signed-in user: everyone's when `everyone` (admins only), else their own."""

    @app.callback(Output(ids.PAGE_ROOT, "className"), Output(ids.PAGE_THEME, "algorithm"),
                  Input(ids.PAGE_THEME_SWITCH, "value"))
    def theme(value):
        """Light or dark page (the charts follow in `fill`)."""
        return ("admin-page admin-dark", "dark") if value == "dark" else ("admin-page", "default")

    @app.callback(*(Output(graph_id, "figure") for graph_id in usage_charts.GRAPHS),
                  Output(ids.USAGE_HEAVIEST, "data"), Output(ids.USAGE_ESTIMATED, "children"),
                  Input(ids.PAGE_THEME_SWITCH, "value"))
    def fill(theme_name):
        """The last usage.DAYS days of usage, drawn in the page's theme."""
        viewer = auth.resolve()
        if viewer is None or (everyone and not viewer["is_admin"]):
            return [no_update] * 5
        strings = STRINGS[current_language()]
        report = usage.report(auth.db, int((time.time() - usage.DAYS * 86400) * 1000), None if everyone else viewer["id"])
        return (*usage_charts.charts(report, strings, theme_name), usage_charts.heaviest_rows(report, viewer["id"], strings),
                strings["usageEstimated"] if report["estimated"] else "")
