"""Two accounts in a fresh store, and a signed-in browser-like session: shared by the store-backed HTTP tests."""

import requests

from chatcore.store import create_engine, migrate, sqlite_url, users

PASSWORD = {"alice": "alice-password", "bob": "bob-password"}


def accounts(tmp_path, database_url=None):
    """A store in tmp_path (or at database_url) with alice and bob; returns the env for an app on it."""
    url = database_url or sqlite_url(tmp_path)
    db = create_engine(url)
    migrate(db)
    for name, password in PASSWORD.items():
        users.add_user(db, name, password)
    return {"AUTH": "password", "DATA_DIR": str(tmp_path), "DATABASE_URL": url}


def signed_in(server, name):
    """A signed-in session that sends what a browser on the app's own page sends."""
    session = requests.Session()
    session.headers["Origin"] = server.url
    response = session.post(f"{server.url}/api/auth/login", json={"username": name, "password": PASSWORD[name]})
    assert response.status_code == 200, response.text
    return session


def answered(db, user_id, tokens, title="t", model="scripted", estimated=False):
    """A stored turn and its usage event, as the app records an answer; returns the conversation id."""
    import time

    from chatcore.store import conversations, usage

    cid = conversations.create_conversation(db, user_id, title)["id"]
    answer_usage = {"total_tokens": tokens, **({"estimated": True} if estimated else {})}
    conversations.add_messages(db, user_id, cid, [{"role": "user", "content": "q"},
                                                  {"role": "assistant", "content": "a", "model": model,
                                                   "usage": answer_usage}])
    with db.begin() as connection:
        usage.record(connection, conversations.new_id(), user_id, model, int(time.time() * 1000), tokens, estimated)
    return cid
