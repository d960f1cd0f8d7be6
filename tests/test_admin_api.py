"""The admin API: only admins reach it (everyone else gets 404), and it never removes the last admin."""

import requests

from chatcore.store import create_engine, users
from testkit.accounts import accounts, answered, signed_in
from testkit.app import upstream_env


def admin_setup(upstream, serve, tmp_path):
    """An app with alice (admin) and bob; returns (server, alice's session, bob's session, db)."""
    env = accounts(tmp_path)
    db = create_engine(env["DATABASE_URL"])
    users.update_user(db, users.find_user(db, "alice")["id"], is_admin=True)
    server = serve(upstream_env(upstream, **env))
    return server, signed_in(server, "alice"), signed_in(server, "bob"), db


def test_non_admins_and_strangers_get_404_on_every_admin_route(upstream, serve, tmp_path):
    server, _, bob, db = admin_setup(upstream, serve, tmp_path)
    alice_id = users.find_user(db, "alice")["id"]
    api = f"{server.url}/api/admin/users"
    for client in (bob, requests.Session()):
        client.headers["Origin"] = server.url
        for response in (client.get(api), client.post(api, json={"name": "eve", "password": "eve-password"}),
                         client.patch(f"{api}/{alice_id}", json={"is_admin": False})):
            assert response.status_code == 404 and "alice" not in response.text
    assert users.find_user(db, "eve") is None and users.find_user(db, "alice")["is_admin"]


def test_an_admin_lists_creates_resets_disables_and_promotes(upstream, serve, tmp_path):
    server, alice, bob, db = admin_setup(upstream, serve, tmp_path)
    bob_id = users.find_user(db, "bob")["id"]
    answered(db, bob_id, 42)
    api = f"{server.url}/api/admin/users"
    listed = {u["name"]: u for u in alice.get(api).json()["data"]}
    assert listed["bob"]["messages_today"] == 1 and listed["bob"]["tokens_month"] == 42
    assert "password_hash" not in str(listed) and listed["alice"]["is_admin"]
    assert alice.post(api, json={"name": "carol", "password": "carol-password"}).status_code == 201
    assert alice.post(api, json={"name": "carol", "password": "carol-password"}).status_code == 400  # taken
    assert alice.patch(f"{api}/{bob_id}", json={"password": "bob-new-password", "disabled": True}).ok
    assert bob.get(f"{server.url}/api/auth/me").status_code == 401  # disabling ends the session
    assert users.authenticate(db, "bob", "bob-new-password") is None
    assert alice.patch(f"{api}/{bob_id}", json={"disabled": False, "is_admin": True}).json()["is_admin"] is True
    assert users.authenticate(db, "bob", "bob-new-password")["is_admin"]
    assert alice.patch(f"{api}/{'0' * 32}", json={"disabled": True}).status_code == 404


def test_the_last_admin_cannot_be_demoted_or_disabled(upstream, serve, tmp_path):
    server, alice, _, db = admin_setup(upstream, serve, tmp_path)
    alice_id = users.find_user(db, "alice")["id"]
    for change in ({"is_admin": False}, {"disabled": True}):
        refused = alice.patch(f"{server.url}/api/admin/users/{alice_id}", json=change)
        assert refused.status_code == 400 and "admin" in refused.json()["error"]["message"]
    assert users.find_user(db, "alice")["is_admin"] and not users.find_user(db, "alice")["disabled"]


def test_each_user_sees_only_their_own_usage(upstream, serve, tmp_path):
    server, alice, bob, db = admin_setup(upstream, serve, tmp_path)
    for name, tokens in (("alice", 10), ("bob", 32)):
        user_id = users.find_user(db, name)["id"]
        answered(db, user_id, tokens, model="m", estimated=True)
    mine = bob.get(f"{server.url}/api/usage").json()
    assert mine["messages_today"] == 1 and mine["tokens_today"] == 32 and mine["estimated"] is True
    assert sum(mine["per_day"].values()) == 32 and list(mine["per_model"]) == ["m"] and sum(mine["per_hour"]) == 1
    assert alice.get(f"{server.url}/api/usage").json()["tokens_month"] == 10


def test_answers_through_the_openai_route_count_in_the_usage_too(upstream, serve, tmp_path):
    server, alice, bob, _ = admin_setup(upstream, serve, tmp_path)
    body = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}],
            "stream_options": {"include_usage": True}, "stream": True}
    assert b"[DONE]" in bob.post(f"{server.url}/v1/chat/completions", json=body).content
    listed = {u["name"]: u for u in alice.get(f"{server.url}/api/admin/users").json()["data"]}
    assert listed["bob"]["messages_today"] == 1 and listed["bob"]["tokens_today"] > 0
    assert listed["alice"]["messages_today"] == 0
