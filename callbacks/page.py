"""What the chat page's callbacks share: the store, the signed-in user, the generations and the language."""

import logging
import time

import feffery_antd_components as fac
from dash import State, set_props
from werkzeug.exceptions import HTTPException, NotFound

from chatcore.store import STORE_ERRORS, conversations
from chatcore.strings import ERRORS, STRINGS
from components import ids
from components.message_list import View
from components.settings import CONTROLS


def notice(kind, text):
    """A toast for the page's one message holder (`global-message`)."""
    return fac.AntdMessage(content=text, type=kind, key=str(time.time()))


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

    def view(self, markdown=False, dark=False):
        """How messages are drawn for this request."""
        lang = self.language()
        return View(STRINGS[lang], ERRORS[lang], markdown, dark)


# The settings controls as callback States, in CONTROLS order (see preferences_from).
PREFERENCE_STATES = [State(component, prop) for component, prop in CONTROLS.values()]


def preferences_from(values) -> dict:
    """The settings as a dict, from the PREFERENCE_STATES' values."""
    return dict(zip(CONTROLS, values))
