"""What is drawn with feffery-antd-components, once chat.js has loaded its bundle after the first screen: the
settings drawer and the dialogs, under antd's theme provider."""

import feffery_antd_components as fac

from components import access_code, conversation_list, ids
from components import settings as settings_drawer


def render(strings, lang, dark, models, prefs, ask_code):
    """The drawer, the access-code dialog (shown when `ask_code`) and the rename/delete dialogs."""
    return fac.AntdConfigProvider(
        id=ids.APP_THEME, locale=lang.lower(), primaryColor="#1677ff", algorithm="dark" if dark else "default",
        children=[
            settings_drawer.render(strings, models, prefs, lang),
            access_code.render(strings, visible=ask_code),
            *conversation_list.dialogs(strings),
        ],
    )
