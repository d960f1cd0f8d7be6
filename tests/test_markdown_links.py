"""The link rule of the page's Markdown (a JS function fmc runs for every link) matches the exporter's, checked in
headless chromium, the engine that runs it for users."""

import pytest

from chatcore.export import safe_link
from components.message_list import SAFE_LINK_FUNC, display_markdown
from testkit.browser import browser


@pytest.fixture(scope="module")
def driver():
    """One headless chromium on a blank page."""
    chromium = browser()
    yield chromium
    chromium.quit()


def test_the_link_rule_is_the_same_in_python_and_in_the_pages_markdown(driver):
    hrefs = ["https://x.org", "http://x", "mailto:a@b.c", "#top", "./a", "/b", "c.html", "javascript:1",
             " JavaScript:1", "java\tscript:1", "data:text/html,x", "vbscript:1", "file:///etc/passwd", "ftp://x"]
    page = [driver.execute_script(f"return ({SAFE_LINK_FUNC})(arguments[0])", href) for href in hrefs]
    assert page == [href if safe_link(href) else "#blocked-link" for href in hrefs]


def test_remote_images_become_links_but_code_is_left_alone():
    text = "![x](https://evil.example/a.png?q=secret) ![local](/assets/a.png)\n```\n![c](https://e/b.png)\n```"
    assert display_markdown(text) == (
        "[🖼 x](https://evil.example/a.png?q=secret) ![local](/assets/a.png)\n```\n![c](https://e/b.png)\n```")
    assert display_markdown("`![i](//e/x.png)` ![i](//e/x.png)") == "`![i](//e/x.png)` [🖼 i](//e/x.png)"
