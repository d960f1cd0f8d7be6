"""The page's HTML as served, without a browser: its title follows the visitor's language, and the antd and Markdown
bundles are left off the page yet served where the page is told to fetch them.

`defer_bundle` in chat_app.py relies on private Dash APIs (`app.scripts.get_all_scripts`, a library's `_js_dist`,
`app._collect_and_register_resources`, `app.scripts._resources._filter_resources`); the bundle test fails when a Dash,
fac or fmc upgrade changes them.
"""

import re

import pytest

from components import ids
from testkit.app import TEST_KEY, build_app
from testkit.strings import EN, ZH

LIBRARIES = {"markdownBundle": "feffery_markdown_components", "antdBundle": "feffery_antd_components"}
ENV = {"OPENAI_API_KEY": TEST_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}


def page_config(layout):
    """The data of the `chat-config` store (what chat.js gets) found in a serialized Dash layout."""
    if isinstance(layout, dict):
        if layout.get("props", {}).get("id") == ids.CONFIG:
            return layout["props"]["data"]
        layout = list(layout.values())
    if isinstance(layout, list):
        return next((found for item in layout if (found := page_config(item)) is not None), None)
    return None


@pytest.mark.parametrize("key", LIBRARIES)
def test_a_deferred_bundle_is_not_a_script_tag_of_the_page_but_is_served_at_the_url_the_page_gets(key):
    library = LIBRARIES[key]
    app = build_app(ENV)
    client = app.server.test_client()

    scripts = re.findall(r'<script src="([^"]+)"', client.get("/").get_data(as_text=True))
    assert any("dash_core_components" in src for src in scripts), f"no component script tags found in {scripts}"
    assert not any(library in src for src in scripts), f"Dash put the deferred {library} back on the page"

    url = page_config(client.get("/_dash-layout").get_json())[key]
    assert library in url and url.endswith(".js"), f"the page was handed {url!r} as {library}'s bundle"
    bundle = client.get(url)
    assert bundle.status_code == 200, f"{url} answered {bundle.status_code}: Dash no longer serves the deferred bundle"
    assert "javascript" in bundle.mimetype and len(bundle.get_data()) > 10_000


def test_pages_other_than_the_chat_page_still_load_antd_at_once():
    client = build_app({**ENV, "AUTH": "password"}).server.test_client()
    scripts = re.findall(r'<script src="([^"]+)"', client.get("/login/").get_data(as_text=True))
    assert any(LIBRARIES["antdBundle"] in src for src in scripts), f"the sign-in page lost fac: {scripts}"


def test_the_page_title_is_in_the_language_the_visitor_chose():
    client = build_app(ENV).server.test_client()
    assert f"<title>{ZH['title']}</title>" in client.get("/").get_data(as_text=True)
    client.get("/lang/en")
    assert f"<title>{EN['title']}</title>" in client.get("/").get_data(as_text=True)


def test_the_page_asks_for_its_layout_and_callbacks_at_once_and_browsers_keep_fingerprinted_assets():
    client = build_app(ENV).server.test_client()
    page = client.get("/").get_data(as_text=True)
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert f'<link rel="preload" href="{path}" as="fetch" crossorigin="anonymous">' in page, page[:2000]

    assets = re.findall(r'(?:src|href)="(/assets/[^"?]+)\?m=([^"]+)"', page)
    assert {path for path, _ in assets} >= {"/assets/chat.js", "/assets/style.css"}, assets
    for path, fingerprint in assets:
        kept = client.get(f"{path}?m={fingerprint}")
        assert kept.status_code == 200
        assert {"public", "immutable", "max-age=31536000"} <= set(kept.headers["Cache-Control"].split(", "))
        # Without the fingerprint the URL may serve another file tomorrow: checked with the server each time.
        assert client.get(path).headers["Cache-Control"] == "no-cache"
    missing = client.get("/assets/missing.js?m=1")
    assert missing.status_code == 404 and "immutable" not in missing.headers.get("Cache-Control", "")
