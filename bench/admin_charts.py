"""The admin page's usage charts in headless Chromium: 30 days x 20 users x 5 models of usage against the same
page over an empty store (the baseline, same run).

The app runs under gunicorn (AUTH=none: the owner is the admin). Timed from navigation start until the users
table and all three charts are drawn, medians of RUNS loads after one warm-up.
"""

import random
import tempfile
import time

from bench.common import median, print_table
from chatcore.store import create_engine, migrate, sqlite_url, users
from chatcore.store.schema import conversations, messages, usage_events
from testkit.browser import PAGE_IDS, browser
from testkit.gunicorn_app import GunicornApp
from testkit.waiting import wait_until

DAYS, USERS, MODELS, ANSWERS_PER_CELL, RUNS = 30, 20, 5, 4, 5
# The table has rows and each chart has drawn its plot (with bars when there is usage to show).
DRAWN = PAGE_IDS + """return document.querySelectorAll(`#${pageIds.ADMIN_USERS} tbody tr`).length > 0 &&
  [pageIds.USAGE_CHART_USERS, pageIds.USAGE_CHART_MODELS, pageIds.USAGE_CHART_HOURS]
    .every((id) => document.querySelector(`#${id} ${arguments[0]}`))"""


def seed(data_dir, with_usage):
    """An owner and, when asked, 19 more users with an answer per user, model and day (x ANSWERS_PER_CELL)."""
    db = create_engine(sqlite_url(data_dir))
    migrate(db)
    owner = users.ensure_user(db, users.OWNER, is_admin=True)
    people = [owner] + [users.add_user(db, f"user{i}", None) for i in range(1, USERS)]
    if not with_usage:
        return 0
    rng, now, rows, convs = random.Random(1), int(time.time() * 1000), [], []
    for person in people:
        cid = f"{len(convs):032x}"
        convs.append({"id": cid, "user_id": person["id"], "title": "t", "created_at": now, "updated_at": now})
        seq = 0
        for day in range(DAYS):
            for model in range(MODELS):
                for _ in range(ANSWERS_PER_CELL):
                    at = now - day * 86_400_000 - rng.randrange(86_400_000)
                    rows.append({"id": f"{len(rows):032x}", "conversation_id": cid, "user_id": person["id"],
                                 "seq": seq, "role": "assistant", "content": "a", "status": "done",
                                 "model": f"model-{model}", "usage": {"total_tokens": rng.randrange(50, 2000)},
                                 "created_at": at})
                    seq += 1
    with db.begin() as connection:
        connection.execute(conversations.insert(), convs)
        connection.execute(messages.insert(), rows)
        # The usage event the app records for every answer (what the charts and the users table read).
        connection.execute(usage_events.insert(), [{"id": r["id"], "user_id": r["user_id"], "model": r["model"],
                                                    "created_at": r["created_at"],
                                                    "total_tokens": r["usage"]["total_tokens"], "estimated": False}
                                                   for r in rows])
    return len(rows)


def load_times(url, drawn):
    """Milliseconds from navigation start until the table and the charts are drawn, per load."""
    driver = browser()
    try:
        times = []
        for _ in range(RUNS + 1):
            driver.get(f"{url}/admin/")
            wait_until(lambda: driver.execute_script(DRAWN, drawn), 30, "the admin page to draw its charts")
            times.append(driver.execute_script("return performance.now()"))
        return times[1:]
    finally:
        driver.quit()


def main():
    """Print the table: empty store vs 30 days x 20 users x 5 models."""
    rows = []
    for label, with_usage in (("empty store (baseline)", False), (f"{DAYS} days x {USERS} users x {MODELS} models",
                                                                   True)):
        data_dir = tempfile.mkdtemp(prefix="bench-admin-")
        answers = seed(data_dir, with_usage)
        with GunicornApp({"DATA_DIR": data_dir, "OPENAI_API_KEY": "sk-bench",
                          "OPENAI_BASE_URL": "http://127.0.0.1:9"}) as app:
            times = load_times(app.url, ".trace.bars" if with_usage else ".main-svg")
        rows.append([label, f"{answers:,}", f"{median(times):.0f}", f"{min(times):.0f}-{max(times):.0f}"])
    rows.append(["ratio", "", f"{float(rows[1][2]) / float(rows[0][2]):.2f}", ""])
    print_table("Admin page drawn (ms from navigation start)", rows, ["usage", "answers", "median", "range"])


if __name__ == "__main__":
    main()
