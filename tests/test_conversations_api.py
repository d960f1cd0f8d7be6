"""The /api routes over a real socket: two users who never see each other's data, bad input refused whole,
same-origin proof for changes, import/export in the page's old format, and a database that goes away."""

import json

import pytest
import requests

from components import ids
from testkit.accounts import accounts, signed_in
from testkit.app import upstream_env
from testkit.page_calls import callback_request

@pytest.fixture
def two_users(upstream, serve, tmp_path):
    """(server, alice's session, bob's session) on an AUTH=password app."""
    server = serve(upstream_env(upstream, **accounts(tmp_path)))
    return server, signed_in(server, "alice"), signed_in(server, "bob")


def test_every_route_answers_404_for_another_users_conversation(two_users):
    server, alice, bob = two_users
    cid = alice.post(f"{server.url}/api/conversations", json={"title": "alice only"}).json()["id"]
    base = f"{server.url}/api/conversations/{cid}"
    attempts = [bob.get(base), bob.patch(base, json={"title": "mine"}), bob.delete(base),
                bob.get(f"{base}/export"), bob.get(f"{base}/export?format=json")]
    for response in attempts:
        assert response.status_code == 404, response.request.method + " " + response.url
        assert response.json()["error"]["code"] == "not_found" and "alice" not in response.text
    assert bob.get(f"{server.url}/api/conversations").json() == {"data": []}
    assert bob.get(f"{server.url}/api/export").json()["conversations"] == []
    assert alice.get(base).json()["title"] == "alice only"


def test_ids_that_are_not_ids_are_not_found(two_users):
    server, alice, _ = two_users
    for bad in ("1", "../etc/passwd", "x" * 32, "%00", "' OR 1=1 --"):
        assert alice.get(f"{server.url}/api/conversations/{bad}").status_code == 404


def test_bad_input_gets_a_clear_error_and_changes_nothing(two_users):
    server, alice, _ = two_users
    cid = alice.post(f"{server.url}/api/conversations", json={"title": "kept"}).json()["id"]
    url = f"{server.url}/api/conversations/{cid}"
    too_long = alice.patch(url, json={"title": "x" * 201})
    assert too_long.status_code == 400 and "200" in too_long.json()["error"]["message"]
    unknown = alice.patch(url, json={"title": "new", "owner": "bob"})
    assert unknown.status_code == 400 and "owner" in unknown.json()["error"]["message"]
    not_json = alice.post(f"{server.url}/api/conversations", data="{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    assert alice.get(url).json()["title"] == "kept"
    assert [c["title"] for c in alice.get(f"{server.url}/api/conversations").json()["data"]] == ["kept"]


def test_changes_from_another_origin_are_refused(two_users):
    server, alice, _ = two_users
    for headers in ({"Origin": "https://evil.example"}, {"Origin": None, "Sec-Fetch-Site": "cross-site"}):
        response = alice.post(f"{server.url}/api/conversations", json={"title": "forged"}, headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "cross_origin"
    assert alice.get(f"{server.url}/api/conversations").json() == {"data": []}
    # Reading is fine from anywhere (the browser keeps the answer from the other site's page).
    assert alice.get(f"{server.url}/api/conversations", headers={"Origin": "https://evil.example"}).ok


def test_a_personal_api_token_works_from_any_client(two_users):
    server, alice, _ = two_users
    token = alice.post(f"{server.url}/api/auth/tokens").json()["token"]
    client = requests.Session()
    client.headers.update({"Authorization": f"Bearer {token}", "Origin": "https://elsewhere.example"})
    created = client.post(f"{server.url}/api/conversations", json={"title": "by token"})
    assert created.status_code == 201
    assert [c["title"] for c in alice.get(f"{server.url}/api/conversations").json()["data"]] == ["by token"]
    assert requests.get(f"{server.url}/api/conversations", headers={"Authorization": "Bearer chat_nope"}).status_code == 401


def test_signed_out_requests_get_401_and_no_data(two_users):
    server, alice, _ = two_users
    alice.post(f"{server.url}/api/conversations", json={"title": "private"})
    alice.post(f"{server.url}/api/auth/logout")
    for response in (alice.get(f"{server.url}/api/conversations"), requests.get(f"{server.url}/api/export")):
        assert response.status_code == 401 and "private" not in response.text


def test_search_rename_delete_round_trip(two_users):
    server, alice, _ = two_users
    api = f"{server.url}/api/conversations"
    first = alice.post(api, json={"title": "Great Wall"}).json()["id"]
    second = alice.post(api, json={"title": "Paris"}).json()["id"]
    assert [c["id"] for c in alice.get(api).json()["data"]] == [second, first]
    assert [c["id"] for c in alice.get(api, params={"q": "wall"}).json()["data"]] == [first]
    assert alice.patch(f"{api}/{first}", json={"title": "长城"}).json()["title"] == "长城"
    assert [c["id"] for c in alice.get(api, params={"q": "长"}).json()["data"]] == [first]
    assert alice.delete(f"{api}/{second}").status_code == 200
    assert alice.get(f"{api}/{second}").status_code == 404


def test_browser_backup_imports_exactly_once_and_exports_back(two_users):
    server, alice, _ = two_users
    backup = {"format": "chat-app-conversations", "version": 1, "exportedAt": "2026-01-01T00:00:00Z",
              "conversations": [{"id": "c-lq2x-abc", "title": "旧对话", "createdAt": 1700000000000,
                                 "updatedAt": 1700000001000,
                                 "messages": [{"role": "user", "content": "你好"},
                                              {"role": "assistant", "content": "你好！**有什么**可以帮你？",
                                               "status": "done", "stats": {"model": "m", "usage": {"total_tokens": 9}}},
                                              {"role": "user", "content": "再见"},
                                              {"role": "assistant", "content": "半句", "status": "streaming"}]}]}
    url = f"{server.url}/api/import"
    assert alice.post(url, data=json.dumps(backup)).json() == {"imported": 1, "skipped": 0}
    assert alice.post(url, data=json.dumps(backup)).json() == {"imported": 0, "skipped": 1}
    exported = alice.get(f"{server.url}/api/export").json()["conversations"]
    assert len(exported) == 1 and exported[0]["title"] == "旧对话" and exported[0]["createdAt"] == 1700000000000
    assert [(m["content"], m["status"]) for m in exported[0]["messages"]] == [
        ("你好", "done"), ("你好！**有什么**可以帮你？", "done"), ("再见", "done"), ("半句", "interrupted")]
    assert exported[0]["messages"][1]["stats"] == {"model": "m", "usage": {"total_tokens": 9}}
    cid = alice.get(f"{server.url}/api/conversations").json()["data"][0]["id"]
    markdown = alice.get(f"{server.url}/api/conversations/{cid}/export")
    assert markdown.headers["Content-Disposition"].startswith("attachment;")
    assert "你好" in markdown.text and "半句" in markdown.text


def test_a_bad_import_names_the_problem_and_stores_nothing(two_users):
    server, alice, _ = two_users
    good = {"id": "a", "title": "ok", "messages": [{"role": "user", "content": "q"}]}
    bad = {"id": "b", "title": "bad", "messages": [{"role": "system", "content": "x"}]}
    document = {"format": "chat-app-conversations", "version": 1, "conversations": [good, bad]}
    response = alice.post(f"{server.url}/api/import", data=json.dumps(document))
    assert response.status_code == 400 and "conversations[1].messages[0].role" in response.json()["error"]["message"]
    assert alice.post(f"{server.url}/api/import", data="not json").json()["error"]["code"] == "import_not_json"
    assert alice.get(f"{server.url}/api/conversations").json() == {"data": []}


def test_settings_are_per_user_and_type_checked(two_users):
    server, alice, bob = two_users
    url = f"{server.url}/api/settings"
    assert alice.put(url, json={"temperature": 0.2, "theme": "dark"}).ok
    assert alice.get(url).json() == {"temperature": 0.2, "theme": "dark"}
    assert bob.get(url).json() == {}
    wrong = alice.put(url, json={"temperature": "hot"})
    assert wrong.status_code == 400 and alice.get(url).json()["temperature"] == 0.2
    assert alice.put(url, json={"apiBase": "http://evil"}).status_code == 400


def test_a_database_that_goes_away_is_reported_and_nothing_is_half_written(upstream, serve, tmp_path, postgres):
    import sqlalchemy as sa

    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE down_test"))
    admin.dispose()
    url = postgres.url.rsplit("/", 1)[0] + "/down_test"
    server = serve(upstream_env(upstream, **accounts(tmp_path, url)))
    alice = signed_in(server, "alice")
    alice.post(f"{server.url}/api/conversations", json={"title": "before"})
    postgres.stop()
    try:
        failed = alice.post(f"{server.url}/api/conversations", json={"title": "during"})
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "store_unavailable"
        assert "Traceback" not in failed.text and "psycopg" not in failed.text
        health = requests.get(f"{server.url}/healthz")
        assert health.status_code == 503 and health.json()["store"] == "unavailable"
        # The page's callbacks get the same answer (chat.js shows it as a toast), with no trace.
        page = alice.post(f"{server.url}/_dash-update-component", json=callback_request(
            server.app, f"{ids.CHANGED}.data", {f"{ids.CHANGED}.data": 1}, ids.LIST))
        assert page.status_code == 503 and page.json()["error"]["code"] == "store_unavailable"
        assert "Traceback" not in page.text and "psycopg" not in page.text
    finally:
        postgres.start()
    titles = [c["title"] for c in alice.get(f"{server.url}/api/conversations").json()["data"]]
    assert titles == ["before"] and requests.get(f"{server.url}/healthz").status_code == 200


def test_cross_site_posts_to_the_model_and_to_dash_callbacks_are_refused_too(two_users):
    server, alice, _ = two_users
    evil = {"Origin": "https://evil.example"}
    chat = alice.post(f"{server.url}/v1/chat/completions", headers=evil,
                      json={"model": "scripted", "messages": [{"role": "user", "content": "spend my tokens"}]})
    callback = alice.post(f"{server.url}/_dash-update-component", headers=evil, json={"output": "x.children"})
    for response in (chat, callback):
        assert response.status_code == 403 and response.json()["error"]["code"] == "cross_origin"


def test_a_backup_with_a_very_long_title_imports_whole(two_users):
    server, alice, _ = two_users
    long = {"id": "b", "title": "长" * 500, "messages": [{"role": "user", "content": "q2"}]}
    short = {"id": "a", "title": "short", "messages": [{"role": "user", "content": "q1"}]}
    document = {"format": "chat-app-conversations", "version": 1, "conversations": [short, long]}
    assert alice.post(f"{server.url}/api/import", data=json.dumps(document)).json() == {"imported": 2, "skipped": 0}
    titles = sorted(c["title"] for c in alice.get(f"{server.url}/api/conversations").json()["data"])
    assert titles == ["short", "长" * 200]


def test_deleting_a_conversation_mid_answer_stops_its_answer(two_users, upstream):
    from testkit.upstream import Script

    server, alice, _ = two_users
    upstream.script = Script(reply="slow " * 2000, chunk_chars=5, delay=0.03)
    cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    started = alice.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "a long one"})
    assert started.status_code == 202
    with alice.get(f"{server.url}/api/generations/{started.json()['generation_id']}/events", stream=True,
                   timeout=30) as events:
        next(line for line in events.iter_lines() if b'"content"' in line)  # it is being written
        assert alice.delete(f"{server.url}/api/conversations/{cid}").status_code == 200
        assert upstream.wait_for_close(timeout=5) is not None  # the model stops: nobody will read it
    assert alice.get(f"{server.url}/api/conversations/{cid}").status_code == 404
