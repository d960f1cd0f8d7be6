"""Share links: a read-only snapshot anyone with the link can open signed out, rendered with the page's safety
rules, revoked at once, and reaching nothing else."""

import requests
from selenium.webdriver.common.by import By

from chatcore.export import safe_link
from chatcore.store import conversations, create_engine, users
from testkit.accounts import accounts, signed_in
from testkit.app import build_app, upstream_env
from testkit.hostile import HOSTILE


def shared_conversation(env, answer):
    """Give alice a conversation with one turn whose answer is `answer`; returns its id."""
    db = create_engine(env["DATABASE_URL"])
    alice = users.authenticate(db, "alice", "alice-password")
    cid = conversations.create_conversation(db, alice["id"], "<b>shared</b> title")["id"]
    conversations.add_messages(db, alice["id"], cid, [{"role": "user", "content": "<script>q()</script> question"},
                                                      {"role": "assistant", "content": answer}])
    return cid


def test_the_link_opens_signed_out_and_revoking_it_is_immediate(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, **env))
    cid = shared_conversation(env, "The **answer**.")
    alice = signed_in(server, "alice")
    url = alice.post(f"{server.url}/api/conversations/{cid}/share").json()["url"]
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 22 and url.startswith(server.url)  # >= 128 random bits
    page = requests.get(url)  # no cookie, no token
    assert page.status_code == 200 and "<strong>answer</strong>" in page.text
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow" and '<meta name="robots" content="noindex' in page.text
    assert "alice" not in page.text and cid not in page.text
    assert alice.post(f"{server.url}/api/conversations/{cid}/share").json()["url"] == url  # one link, refreshed
    assert alice.delete(f"{server.url}/api/conversations/{cid}/share").ok
    assert requests.get(url).status_code == 404
    assert requests.get(f"{server.url}/share/{'x' * 32}").status_code == 404


def test_only_the_owner_can_share_or_revoke(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, **env))
    cid = shared_conversation(env, "mine")
    bob = signed_in(server, "bob")
    assert bob.post(f"{server.url}/api/conversations/{cid}/share").status_code == 404
    url = signed_in(server, "alice").post(f"{server.url}/api/conversations/{cid}/share").json()["url"]
    assert bob.delete(f"{server.url}/api/conversations/{cid}/share").status_code == 404
    assert requests.get(url).status_code == 200


def test_a_hostile_answer_is_inert_on_the_share_page(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, **env))
    leak = f"{upstream.url}/leak.png?secret=1"
    cid = shared_conversation(env, HOSTILE.replace("LEAK_URL", leak))
    page = requests.get(signed_in(server, "alice").post(f"{server.url}/api/conversations/{cid}/share").json()["url"])
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none': no script may run
    html = page.text
    assert "<script" not in html and "<iframe" not in html and "<img" not in html  # raw HTML shows as text
    for scheme in ("javascript:", "vbscript:", "data:text"):
        assert f'href="{scheme}' not in html.lower()
    assert 'href="https://example.com/docs"' in html and f'href="{leak}"'.replace("&", "&amp;") in html
    assert "&lt;b&gt;shared&lt;/b&gt; title" in html and "&lt;script&gt;q()" in html


def test_safe_link_keeps_only_the_pages_schemes():
    assert all(safe_link(h) for h in ("https://x.org", "http://x", "mailto:a@b.c", "#top", "./a", "/b", "c.html"))
    assert not any(safe_link(h) for h in ("javascript:1", " JavaScript:1", "java\tscript:1", "data:text/html,x",
                                          "vbscript:1", "file:///etc/passwd"))


def test_the_share_page_shows_the_conversation_to_a_signed_out_browser(dash_duo, upstream, tmp_path):
    env = accounts(tmp_path)
    app = build_app(upstream_env(upstream, **env))
    dash_duo.start_server(app)
    cid = shared_conversation(env, "Paris is the capital of **France**.")
    alice = requests.Session()
    alice.headers["Origin"] = dash_duo.server_url
    alice.post(f"{dash_duo.server_url}/api/auth/login", json={"username": "alice", "password": "alice-password"})
    url = alice.post(f"{dash_duo.server_url}/api/conversations/{cid}/share").json()["url"]
    dash_duo.driver.get(url)
    dash_duo.wait_for_text_to_equal("h1", "<b>shared</b> title")
    messages = dash_duo.driver.find_elements(By.CSS_SELECTOR, ".msg")
    assert [m.text for m in messages] == ["<script>q()</script> question", "Paris is the capital of France."]
    assert messages[1].find_element(By.TAG_NAME, "strong").text == "France"
