"""components/ids.py is the one home of the pages' DOM ids: the layouts and callbacks use its names, the scripts get
theirs in the page config, and the CSS may name only ids defined there."""

import re
from pathlib import Path

from components import ids
from testkit.app import TEST_KEY, build_app
from tests.test_page_html import page_config

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "assets").glob("*.js"))
DASH_OWN = {"react-entry-point", "_dash-app-content", "_dash-global-error-container"}  # Dash's page, not ours
ENV = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


def defined():
    """Every id (and id prefix) components/ids.py defines."""
    return {value for name, value in vars(ids).items() if name.isupper() and isinstance(value, str)}


def is_defined(name):
    """An id of ours: one of the constants, or one built from a prefix (chat-msg-12)."""
    return name in defined() or any(name.startswith(p) for p in defined() if p.endswith("-"))


def laid_out_ids(layout):
    """Every component id in a serialized Dash layout."""
    if isinstance(layout, dict):
        found = [layout["props"]["id"]] if isinstance(layout.get("props", {}).get("id"), str) else []
        return found + [i for value in layout.values() for i in laid_out_ids(value)]
    if isinstance(layout, list):
        return [i for item in layout for i in laid_out_ids(item)]
    return []


def test_every_id_has_one_constant():
    values = [value for name, value in vars(ids).items() if name.isupper() and isinstance(value, str)]
    assert len(values) == len(set(values)), "two constants share an id"


def test_every_id_on_the_chat_page_is_defined_in_ids_and_the_scripts_get_theirs_in_the_config():
    client = build_app(ENV).server.test_client()
    layout = client.get("/_dash-layout").get_json()
    assert [i for i in laid_out_ids(layout) if not is_defined(i)] == []
    assert page_config(layout)["ids"] == ids.BROWSER


def test_layouts_and_callbacks_name_ids_only_through_the_module():
    literal = re.compile(r"""\bid=["']|\b(?:Input|Output|State|set_props)\(\s*["']|"type": ["']""")
    sources = [ROOT / "chat_app.py", *(ROOT / "components").glob("*.py"), *(ROOT / "callbacks").glob("*.py")]
    found = [f"{path.name}: {line.strip()}" for path in sources if path.name != "ids.py"
             for line in path.read_text().splitlines() if literal.search(line)]
    assert found == []


def test_the_scripts_use_only_the_ids_the_page_config_sends_and_name_none_literally():
    used = {name for path in SCRIPTS for name in re.findall(r"\bids\.([A-Z_]+)", path.read_text())}
    assert used == set(ids.BROWSER), "chat.js/attach.js and ids.BROWSER disagree"
    for path in SCRIPTS:
        text = path.read_text()
        assert not re.search(r"""(getElementById|setProps|set_props)\(\s*['"`]""", text), path.name
        strings = re.findall(r"""'[^'\n]*'|"[^"\n]*"|`[^`]*`""", text)
        hashes = {name for s in strings for name in re.findall(r"#([A-Za-z_][\w-]*)", s)}
        assert hashes == set(), f"{path.name} names #{hashes} literally"


def test_every_id_the_stylesheet_names_is_defined_in_ids():
    css = re.sub(r"/\*.*?\*/", "", (ROOT / "assets" / "style.css").read_text(), flags=re.S)
    selectors = " ".join(re.findall(r"([^{}]*)\{", css))  # the text before each block: selectors, @media lines
    named = set(re.findall(r"#([A-Za-z_][\w-]*)", selectors)) - DASH_OWN
    assert {name for name in named if not is_defined(name)} == set()
