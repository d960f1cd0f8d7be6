"""The store on SQLite and on a real PostgreSQL: migrations, per-user scoping, whole turns, search, import."""

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chatcore.store import conversations, create_engine, migrate, users
from chatcore.store.engine import alembic_config
from chatcore.store.schema import metadata


def fresh(database_url):
    """An engine on a migrated, empty database."""
    db = create_engine(database_url)
    migrate(db)
    return db


def test_migrations_build_exactly_the_schema_the_code_uses(database_url):
    db = fresh(database_url)
    with db.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    # Postgres alone has the trigram search indexes (migration 0002), which the portable schema does not declare.
    extra = [d for d in differences if d[0] == "remove_index" and d[1].name.endswith("_trgm")]
    assert len(extra) == (2 if db.dialect.name == "postgresql" else 0)
    assert [d for d in differences if d not in extra] == []


def test_migrations_are_idempotent_and_reversible(database_url):
    db = fresh(database_url)
    alice = users.add_user(db, "alice", "password-1")
    migrate(db)  # a second start (another worker) changes nothing
    assert users.get_user(db, alice["id"])["name"] == "alice"
    with db.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(sa.inspect(db).get_table_names()) <= {"alembic_version"}
    migrate(db)
    assert users.list_users(db) == []


def test_another_users_conversation_is_never_reached(database_url):
    db = fresh(database_url)
    alice, bob = users.add_user(db, "alice", "password-1"), users.add_user(db, "bob", "password-2")
    conversation = conversations.create_conversation(db, alice["id"], "alice's")
    [question] = conversations.add_messages(db, alice["id"], conversation["id"], [{"role": "user", "content": "hi"}])
    cid, bid = conversation["id"], bob["id"]
    assert conversations.get_conversation(db, bid, cid) is None
    assert conversations.rename_conversation(db, bid, cid, "mine") is None
    assert conversations.delete_conversation(db, bid, cid) is False
    assert conversations.add_messages(db, bid, cid, [{"role": "user", "content": "x"}]) is None
    assert conversations.update_message(db, bid, question["id"], content="changed") is False
    assert conversations.delete_messages_from(db, bid, cid, 0) is False
    assert conversations.list_conversations(db, bid) == []
    assert conversations.list_conversations(db, bid, "hi") == []
    kept = conversations.get_conversation(db, alice["id"], cid)
    assert kept["title"] == "alice's" and [m["content"] for m in kept["messages"]] == ["hi"]


def test_a_turn_is_stored_whole_or_not_at_all(database_url):
    db = fresh(database_url)
    owner = users.add_user(db, "owner", None)
    cid = conversations.create_conversation(db, owner["id"])["id"]
    bad_turn = [{"role": "user", "content": "question"}, {"role": "robot", "content": "?"}]
    try:
        conversations.add_messages(db, owner["id"], cid, bad_turn)
    except conversations.ConversationError:
        pass
    assert conversations.get_conversation(db, owner["id"], cid)["messages"] == []
    conversations.add_messages(db, owner["id"], cid, [{"role": "user", "content": "## 长城有多长？\nmore"},
                                                      {"role": "assistant", "content": "两万多公里。"}])
    found = conversations.get_conversation(db, owner["id"], cid)
    assert [(m["seq"], m["role"]) for m in found["messages"]] == [(0, "user"), (1, "assistant")]
    assert found["title"] == "长城有多长？"  # the first question names an untitled conversation


def test_search_is_case_insensitive_literal_and_scoped(database_url):
    db = fresh(database_url)
    alice, bob = users.add_user(db, "alice", "password-1"), users.add_user(db, "bob", "password-2")
    for user, title, text in ((alice, "Paris trip", "Eiffel tower"), (alice, "数学", "100% sure_thing"),
                              (bob, "Bob's Paris", "eiffel")):
        cid = conversations.create_conversation(db, user["id"], title)["id"]
        conversations.add_messages(db, user["id"], cid, [{"role": "user", "content": text}])
    titles = lambda q: [c["title"] for c in conversations.list_conversations(db, alice["id"], q)]  # noqa: E731
    assert titles("EIFFEL") == ["Paris trip"]
    assert titles("paris") == ["Paris trip"]
    assert titles("0% sure_") == ["数学"]
    assert titles("%") == ["数学"] and titles("0_ s") == []  # wildcards are literal characters
    assert titles("数") == ["数学"]
    assert titles("") == ["数学", "Paris trip"]  # newest first


def test_the_window_is_the_last_messages_in_order(database_url):
    db = fresh(database_url)
    owner = users.add_user(db, "owner", None)
    cid = conversations.create_conversation(db, owner["id"])["id"]
    conversations.add_messages(db, owner["id"], cid, [{"role": ("user", "assistant")[i % 2], "content": str(i)}
                                                      for i in range(10)])
    window = conversations.get_conversation(db, owner["id"], cid, window=4)
    assert [m["content"] for m in window["messages"]] == ["6", "7", "8", "9"] and window["message_count"] == 10


def test_passwords_are_hashed_and_checked_alike_for_unknown_users(database_url):
    db = fresh(database_url)
    alice = users.add_user(db, "alice", "correct horse")
    with db.connect() as connection:
        stored = connection.execute(sa.text("SELECT password_hash FROM users")).scalar()
    assert "correct horse" not in stored and stored.startswith("scrypt:")
    assert users.authenticate(db, "alice", "correct horse")["id"] == alice["id"]
    assert users.authenticate(db, "alice", "wrong horse") is None
    assert users.authenticate(db, "nobody", "correct horse") is None


def test_only_one_first_user_becomes_admin(database_url):
    db = fresh(database_url)
    first = users.add_first_user(db, "first", "password-1")
    assert first["is_admin"] is True
    assert users.add_first_user(db, "second", "password-2") is None
    assert [u["name"] for u in users.list_users(db)] == ["first"]


def test_a_new_password_ends_old_sessions_and_tokens_name_their_user(database_url):
    db = fresh(database_url)
    alice = users.add_user(db, "alice", "password-1")
    token = users.create_token(db, alice["id"])
    users.set_password(db, alice["id"], "password-2")
    assert users.get_user(db, alice["id"])["session_version"] == alice["session_version"] + 1
    assert users.user_for_token(db, token)["name"] == "alice"
    assert users.user_for_token(db, token + "x") is None and users.user_for_token(db, "garbage") is None
    with db.connect() as connection:
        assert token not in str(list(connection.execute(sa.text("SELECT * FROM api_tokens"))))


def test_importing_the_same_backup_twice_adds_it_once(database_url):
    db = fresh(database_url)
    alice, bob = users.add_user(db, "alice", "password-1"), users.add_user(db, "bob", "password-2")
    item = {"id": "c-abc", "title": "old", "createdAt": 1, "updatedAt": 2,
            "messages": [{"role": "user", "content": "q", "status": "done"},
                         {"role": "assistant", "content": "a", "status": "interrupted"}]}
    first = conversations.import_conversation(db, alice["id"], item)
    assert conversations.import_conversation(db, alice["id"], item) is None
    assert conversations.import_conversation(db, bob["id"], item) not in (None, first)  # never another user's id
    changed = dict(item, messages=item["messages"][:1])
    assert conversations.import_conversation(db, alice["id"], changed) not in (None, first)
    stored = conversations.get_conversation(db, alice["id"], first)
    assert [(m["content"], m["status"]) for m in stored["messages"]] == [("q", "done"), ("a", "interrupted")]
    assert len(conversations.list_conversations(db, alice["id"])) == 2


def test_the_schema_revision_the_app_checks_is_alembics_head(database_url):
    from alembic.script import ScriptDirectory

    from chatcore.store.engine import SCHEMA_REVISION, schema_revision

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_REVISION
    db = fresh(database_url)
    assert schema_revision(db) == SCHEMA_REVISION
