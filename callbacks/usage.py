"""What is left of the signed-in user's limits, under the input box ("还剩 12 条 / 12 left today")."""

from dash import Input, Output

from chatcore import quotas
from chatcore.strings import STRINGS
from components import ids

# The first limit that is set is shown, in this order.
LEFT_KEYS = (("messages_today", "leftMessagesToday"), ("tokens_today", "leftTokensToday"),
             ("tokens_month", "leftTokensMonth"))


def left_text(left: dict, strings) -> str:
    """The line to show for quotas.remaining()'s result ('' when nothing is limited)."""
    for key, string in LEFT_KEYS:
        if key in left:
            return strings[string].format(n=left[key])
    return ""


def limits_and_left(auth, user_id, strings):
    """(the user's quotas.Limits, the line saying what is left of them; '' when nothing is limited)."""
    limits = quotas.limits_for(auth.db, user_id, auth.settings)
    return limits, left_text(quotas.remaining(auth.db, user_id, limits), strings) if limits.any else ""


def register(app, auth, current_language):
    """Re-render the line whenever the conversation is drawn (after every answer; the page load renders it in the
    layout)."""

    @app.callback(Output(ids.USAGE_LEFT, "children"), Input(ids.SHOWN, "data"), prevent_initial_call=True)
    def show_left(_refreshed):
        """The signed-in user's remaining messages or tokens."""
        user = auth.resolve()
        if user is None:
            return ""
        return limits_and_left(auth, user["id"], STRINGS[current_language()])[1]
