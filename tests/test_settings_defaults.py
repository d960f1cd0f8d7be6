"""The settings a browser starts with are the same in Python (components/settings.py) and in assets/chat.js."""

import json
import re
from pathlib import Path

from components.settings import DEFAULTS

CHAT_JS = Path(__file__).resolve().parent.parent / "assets" / "chat.js"


def test_chat_js_starts_from_the_python_defaults():
    source = re.search(r"const DEFAULT_SETTINGS = \{(.*?)\};", CHAT_JS.read_text(encoding="utf-8"), re.S).group(1)
    js = dict(re.findall(r"(\w+): ([^,]+)", source))
    assert {name: json.loads(js[name].replace("'", '"')) for name in DEFAULTS} == DEFAULTS
