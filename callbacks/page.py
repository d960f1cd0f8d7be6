"""What the chat page's callbacks share: the store, the signed-in user, the generations and the language."""

import logging
import time

from dash import State, html, set_props
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import HTTPException, NotFound

from chatcore.store import STORE_ERRORS, conversations, users
from chatcore.strings import ERRORS, STRINGS
from components import ids
from components import settings as settings_drawer
from components.message_list import View
from components.settings import CONTROLS


def notice(kind, text):
    """A toast for the page's one message holder (`global-message`); `kind` is success, warning or error. It
    fades out by itself (assets/style.css); a new key starts it again."""
    return html.Div(text, className=f"chat-toast chat-toast--{kind}", key=str(time.time()),
                    role="alert" if kind == "error" else "status")


class Page:
    """The chat page's view of one app: every callback asks it for the user and the store."""

    def __init__(self, auth, generations, settings, providers, current_language):
        self.auth, self.db, self.generations = auth, auth.db, generations
        self.settings, self.providers, self.language = settings, providers, current_language

    def user_id(self):
        """The signed-in user's id for this callback's request, or None (no access code yet, signed out)."""
        user = self.auth.resolve()
        return user["id"] if user else None

    def conversation(self, cid, window=None):
        """The signed-in user's conversation `cid` (None when `cid` is None). Anyone else's, a deleted one or an id
        that is not one answers 404, as the /api routes do: a callback called by hand learns nothing."""
        if not cid:
            return None
        user_id = self.user_id()
        found = user_id and conversations.get_conversation(self.db, user_id, cid, window=window)
        if not found:
            raise NotFound()
        return found

    def failed(self, error):
        """A callback raised: a 404 stays a 404; a store that is down, or a bug, becomes a toast (logged, never
        shown as a trace). Dash calls this for every callback of the page (its `on_error`)."""
        if isinstance(error, HTTPException):
            raise error
        down = isinstance(error, STORE_ERRORS)
        if down:
            logging.getLogger("chat").error("database unavailable in a page callback: %s", type(error).__name__)
        else:
            logging.getLogger("chat").error("page callback failed", exc_info=error)
        set_props(ids.GLOBAL_MESSAGE, {"children": notice("error", self.error_text(
            "store_unavailable" if down else "default"))})

    @property
    def strings(self):
        """This request's strings (zh-CN or en-US)."""
        return STRINGS[self.language()]

    def error_text(self, code):
        """This request's message for an error code (the general one for a code without its own)."""
        errors = ERRORS[self.language()]
        return errors.get(code, errors["default"])

    def preferences(self, user_id):
        """The user's saved settings over the defaults (the defaults for no user)."""
        saved = users.get_settings(self.db, user_id) if user_id else {}
        return settings_drawer.preferences(saved, [model for model, _ in self.providers.models()],
                                           self.providers.default_model())

    def preferences_from(self, values) -> dict:
        """The settings a question is asked with, from the PREFERENCE_STATES' values. Until the drawer is drawn
        (fac loads after the first screen) its controls are missing and read as None: then the saved ones."""
        prefs = dict(zip(CONTROLS, values))
        prefs["multiTurn"] = settings_drawer.multi_turn_on(prefs["multiTurn"])
        if prefs["theme"] is None:  # never None once drawn
            prefs = {**self.preferences(self.user_id()), "multiTurn": prefs["multiTurn"]}
        return prefs

    def view(self, markdown=False, dark=False):
        """How messages are drawn for this request."""
        lang = self.language()
        return View(STRINGS[lang], ERRORS[lang], markdown, dark)


def unless_drawn_only(count):
    """Stop a callback of a drawer or dialog control that fired only because the overlays were drawn: Dash calls a
    callback when its input is inserted (prevent_initial_call or not), and the control's count is unset then."""
    if not count:
        raise PreventUpdate


# The settings controls as callback States, in CONTROLS order (see Page.preferences_from); the drawer's are
# missing until fac is loaded.
PREFERENCE_STATES = [State(component, prop, allow_optional=True) for component, prop in CONTROLS.values()]
