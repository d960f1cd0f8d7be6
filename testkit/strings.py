"""The app's own words, for assertions: tests read chatcore/strings.py instead of copying its text."""

import re
from string import Formatter

from chatcore.strings import ERRORS, PRESETS, STRINGS

ZH = STRINGS["zh-CN"]  # the page's language until the user picks another (Chinese, as the original app)
EN = STRINGS["en-US"]
ZH_ERRORS = ERRORS["zh-CN"]
ZH_PRESETS = PRESETS["zh-CN"]


def template_regex(template, **fields):
    """A regex matching a string-table template: its text literally, each {field} as the pattern given for it."""
    return "".join(re.escape(text) + (fields[name] if name is not None else "")
                   for text, name, _spec, _conversion in Formatter().parse(template))
