"""The server's store at size: 1,000 conversations and 100,000 messages of one user, on SQLite and Postgres.

The app runs under gunicorn (shipped config, AUTH=none). Each request is timed over loopback; `GET /healthz`
(which also queries the database) in the same run is the baseline round trip, so "server" is the median minus
it. Measured: the conversation list, a 64-message window of a 100-message conversation (switching), and search
(a word in a few messages; a word in none; two Chinese characters, too short for Postgres' trigram index).
"""

import random
import time

import requests
import sqlalchemy as sa

from bench.common import median, percentile, print_table
from chatcore.store import create_engine, migrate, sqlite_url, users
from chatcore.store.schema import conversations, messages
from testkit.gunicorn_app import GunicornApp
from testkit.postgres import PostgresServer

CONVERSATIONS, PER_CONVERSATION, RUNS = 1000, 100, 30
WORDS = "the of and to in is you that it he was for on are as with his they at be this have from".split()


def seed(url):
    """Fill the store: one owner, CONVERSATIONS x PER_CONVERSATION messages of ~400 characters."""
    db = create_engine(url)
    migrate(db)
    owner = users.ensure_user(db, users.OWNER, is_admin=True)["id"]
    rng = random.Random(1)
    now = int(time.time() * 1000)
    conversation_rows, message_rows = [], []
    for c in range(CONVERSATIONS):
        cid = f"{c:032x}"
        conversation_rows.append({"id": cid, "user_id": owner, "title": f"conversation {c}", "created_at": now + c,
                                  "updated_at": now + c})
        for m in range(PER_CONVERSATION):
            text = " ".join(rng.choice(WORDS) for _ in range(80))
            if c % 250 == 0 and m == 7:
                text += " zeppelin 长城"  # the rare words search looks for
            message_rows.append({"id": f"{c:016x}{m:016x}", "conversation_id": cid, "user_id": owner, "seq": m,
                                 "role": ("user", "assistant")[m % 2], "content": text, "status": "done",
                                 "created_at": now + c})
    with db.begin() as connection:
        connection.execute(conversations.insert(), conversation_rows)
        for start in range(0, len(message_rows), 10_000):
            connection.execute(messages.insert(), message_rows[start:start + 10_000])
    if db.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load, done now
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
    db.dispose()


def timed(url, runs=RUNS):
    """Median and p95 milliseconds of GET url."""
    samples = []
    with requests.Session() as session:
        session.get(url, timeout=30).raise_for_status()  # warm
        for _ in range(runs):
            started = time.perf_counter()
            session.get(url, timeout=30).raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return median(samples), percentile(samples, 95)


def measure(name, url):
    """Rows of the table for one database."""
    seeding = time.perf_counter()
    seed(url)
    print(f"{name}: seeded {CONVERSATIONS * PER_CONVERSATION:,} messages in {time.perf_counter() - seeding:.1f} s")
    with GunicornApp({"DATABASE_URL": url, "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": "http://127.0.0.1:9"}) as app:
        base, _ = timed(f"{app.url}/healthz")
        cases = [("list", "/api/conversations"), ("window of 64", f"/api/conversations/{500:032x}?window=64"),
                 ("search (4 hits)", "/api/conversations?q=zeppelin"), ("search (no hit)", "/api/conversations?q=qqqq"),
                 ("search, 2 CJK characters (4 hits)", "/api/conversations?q=%E9%95%BF%E5%9F%8E")]
        rows = [[name, "baseline /healthz", f"{base:.1f}", "", ""]]
        for label, path in cases:
            med, p95 = timed(app.url + path)
            rows.append([name, label, f"{med:.1f}", f"{p95:.1f}", f"{med - base:.1f}"])
    return rows


def main():
    """Print the table for SQLite and Postgres."""
    import tempfile

    rows = measure("SQLite", sqlite_url(tempfile.mkdtemp(prefix="bench-store-")))
    with PostgresServer() as pg:
        rows += measure("Postgres", pg.url)
    print_table("Store at 1,000 conversations / 100,000 messages (ms)", rows,
                ["database", "request", "median", "p95", "server (median - baseline)"])


if __name__ == "__main__":
    main()
