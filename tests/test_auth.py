"""Signing in: passwords, the first account, throttling, cookies, trusted-proxy users, the CLI, and /v1."""

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import requests

from chatcore.store import create_engine, sqlite_url, users
from testkit.accounts import PASSWORD, accounts, signed_in
from testkit.app import TEST_KEY, upstream_env

ROOT = Path(__file__).resolve().parent.parent


def login(server, name, password, **headers):
    """POST /api/auth/login as a browser on the page would."""
    return requests.post(f"{server.url}/api/auth/login", json={"username": name, "password": password},
                         headers={"Origin": server.url, **headers})


def test_wrong_password_and_unknown_user_get_the_same_answer(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, **accounts(tmp_path)))
    wrong, unknown = login(server, "alice", "not-her-password"), login(server, "nobody", "not-her-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and "Set-Cookie" not in wrong.headers


def test_the_session_cookie_is_httponly_lax_and_secure_only_behind_tls(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, TRUSTED_PROXIES="1", **accounts(tmp_path)))
    plain = login(server, "alice", PASSWORD["alice"]).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    tls = login(server, "alice", PASSWORD["alice"], **{"X-Forwarded-Proto": "https"}).headers["Set-Cookie"]
    assert "Secure" in tls


def test_ten_failures_a_minute_lock_the_name_and_the_ip(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, **accounts(tmp_path)))
    statuses = [login(server, "alice", f"guess-{i}").status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]
    assert login(server, "alice", PASSWORD["alice"]).status_code == 429  # even the right password, for a minute
    # The same IP trying other names is stopped too (bob's name has no failures of its own yet).
    assert login(server, "bob", PASSWORD["bob"]).status_code == 429


def test_the_first_visitor_creates_the_admin_and_then_setup_is_gone(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, AUTH="password", DATA_DIR=str(tmp_path)))
    first = requests.post(f"{server.url}/api/auth/setup", json={"username": "mum", "password": "family-admin"},
                          headers={"Origin": server.url})
    assert first.status_code == 200 and first.json()["user"]["is_admin"] is True
    again = requests.post(f"{server.url}/api/auth/setup", json={"username": "kid", "password": "let-me-in-1"},
                          headers={"Origin": server.url})
    assert again.status_code == 404
    assert login(server, "mum", "family-admin").status_code == 200
    assert login(server, "kid", "let-me-in-1").status_code == 401


def test_a_new_password_signs_out_other_sessions(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, **env))
    alice = signed_in(server, "alice")
    assert alice.get(f"{server.url}/api/auth/me").json()["user"]["name"] == "alice"
    db = create_engine(env["DATABASE_URL"])
    users.set_password(db, users.authenticate(db, "alice", PASSWORD["alice"])["id"], "brand-new-password")
    assert alice.get(f"{server.url}/api/auth/me").status_code == 401


def test_the_model_route_needs_a_signed_in_user_or_token(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, **accounts(tmp_path)))
    body = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}
    assert requests.post(f"{server.url}/v1/chat/completions", json=body).status_code == 401
    alice = signed_in(server, "alice")
    assert alice.post(f"{server.url}/v1/chat/completions", json=body).status_code == 200
    token = alice.post(f"{server.url}/api/auth/tokens").json()["token"]
    by_token = requests.post(f"{server.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"})
    assert by_token.status_code == 200


def test_header_auth_trusts_only_the_proxy_addresses(upstream, serve, tmp_path):
    trusted = serve(upstream_env(upstream, AUTH="header", DATA_DIR=str(tmp_path / "a")))
    me = requests.get(f"{trusted.url}/api/auth/me", headers={"Remote-User": "grandpa"})
    assert me.status_code == 200 and me.json()["user"]["name"] == "grandpa"  # created on first sight
    assert requests.get(f"{trusted.url}/api/auth/me").status_code == 401
    elsewhere = serve(upstream_env(upstream, AUTH="header", TRUSTED_PROXY_ADDRESSES="10.9.8.7",
                                   DATA_DIR=str(tmp_path / "b")))
    assert requests.get(f"{elsewhere.url}/api/auth/me", headers={"Remote-User": "grandpa"}).status_code == 401


def test_access_code_still_guards_the_store_with_auth_none(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, ACCESS_CODE="family-code", DATA_DIR=str(tmp_path)))
    assert requests.get(f"{server.url}/api/conversations").status_code == 401
    with_code = requests.get(f"{server.url}/api/conversations", headers={"Authorization": "Bearer family-code"})
    assert with_code.json() == {"data": []}
    session = requests.Session()
    session.headers["Origin"] = server.url
    assert session.post(f"{server.url}/api/auth/login", json={"password": "family-code"}).ok
    assert session.get(f"{server.url}/api/conversations").ok


def test_no_secret_reaches_a_response_or_a_log(upstream, serve, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = serve(upstream_env(upstream, SECRET_KEY="sk-session-SECRET-91", **accounts(tmp_path)))
    alice = signed_in(server, "alice")
    login(server, "alice", "a-wrong-password-77")
    responses = [alice.get(f"{server.url}/api/auth/me"), requests.get(f"{server.url}/healthz"),
                 alice.post(f"{server.url}/api/auth/tokens")]
    seen = "".join(r.text + str(r.headers) for r in responses) + caplog.text
    for secret in ("sk-session-SECRET-91", PASSWORD["alice"], "a-wrong-password-77", TEST_KEY):
        assert secret not in seen


def test_a_generated_secret_key_is_kept_owner_only_in_data_dir(upstream, serve, tmp_path):
    serve(upstream_env(upstream, DATA_DIR=str(tmp_path)))
    key_file = tmp_path / "secret_key"
    assert len(key_file.read_text()) >= 48 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    serve(upstream_env(upstream, DATA_DIR=str(tmp_path)))
    assert key_file.read_text() == first  # sessions survive a restart


def test_cli_adds_and_lists_users_with_the_password_from_stdin(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    cli = [sys.executable, "chat_app.py", "user"]
    added = subprocess.run(cli + ["add", "mum", "--admin"], input="family-admin\n", env=env, cwd=ROOT,
                           capture_output=True, text=True)
    assert added.returncode == 0 and "family-admin" not in added.stdout + added.stderr
    refused = subprocess.run(cli + ["add", "kid"], input="short\n", env=env, cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 1 and "8" in refused.stderr
    listed = subprocess.run(cli + ["list"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert listed.stdout.split("\n")[0] == "mum admin"
    assert users.authenticate(create_engine(sqlite_url(tmp_path)), "mum", "family-admin")["is_admin"]


def test_cli_resets_passwords_and_never_removes_the_last_admin(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}

    def cli(*args, stdin=""):
        """Run `python chat_app.py user ...`."""
        return subprocess.run([sys.executable, "chat_app.py", "user", *args], input=stdin, env=env, cwd=ROOT,
                              capture_output=True, text=True)

    assert cli("add", "mum", "--admin", stdin="family-admin\n").returncode == 0
    assert cli("add", "kid", stdin="kid-password\n").returncode == 0
    refused = cli("unadmin", "mum")
    assert refused.returncode == 1 and "at least one enabled admin" in refused.stderr
    assert cli("disable", "mum").returncode == 1
    assert cli("passwd", "kid", stdin="new-kid-password\n").returncode == 0
    assert cli("disable", "kid").returncode == 0
    assert cli("list").stdout.split("\n")[:2] == ["kid disabled", "mum admin"]
    db = create_engine(sqlite_url(tmp_path))
    assert users.authenticate(db, "kid", "new-kid-password") is None  # disabled
    assert cli("enable", "kid").returncode == 0
    assert users.authenticate(db, "kid", "new-kid-password")["name"] == "kid"
    assert cli("passwd", "nobody", stdin="whatever-pass\n").returncode == 1
