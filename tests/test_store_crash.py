"""A process killed with SIGKILL in the middle of writing leaves the SQLite store intact, with every finished turn."""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

from chatcore.store import conversations, create_engine, migrate, sqlite_url, users

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent("""
    import sys
    from chatcore.store import conversations, create_engine, sqlite_url, users
    db = create_engine(sqlite_url(sys.argv[1]))
    owner = users.ensure_user(db, "owner")
    turn = 0
    while True:
        cid = conversations.create_conversation(db, owner["id"])["id"]
        for _ in range(5):
            turn += 1
            conversations.add_messages(db, owner["id"], cid, [
                {"role": "user", "content": f"question {turn} " + "问" * 500},
                {"role": "assistant", "content": f"answer {turn} " + "答" * 2000, "usage": {"total_tokens": turn}}])
            print(cid, turn, flush=True)  # only after the commit returned
""")


def test_kill_9_during_writes_keeps_the_database_consistent_and_every_finished_turn(tmp_path):
    migrate(create_engine(sqlite_url(tmp_path)))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    finished = [writer.stdout.readline().split() for _ in range(150)]
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    finished += [line.split() for line in writer.stdout.read().splitlines() if line]

    db = create_engine(sqlite_url(tmp_path))
    with db.connect() as connection:
        assert connection.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
        assert connection.execute(sa.text("PRAGMA foreign_key_check")).fetchall() == []
    owner = users.ensure_user(db, "owner")
    stored = {}
    for summary in conversations.list_conversations(db, owner["id"]):
        messages = conversations.get_conversation(db, owner["id"], summary["id"])["messages"]
        assert len(messages) % 2 == 0  # never a question without its answer
        stored.update({int(m["content"].split()[1]): m for m in messages if m["role"] == "assistant"})
    assert {int(turn) for _, turn in finished} <= set(stored)
    assert all(stored[turn]["content"].endswith("答" * 2000) for turn in stored)
