"""Per-user limits: counted before the model is called, atomically across instances, with a clear message and
the reset time; per-user overrides and model allowlists."""

from concurrent.futures import ThreadPoolExecutor

import requests

from chatcore import quotas
from chatcore.store import create_engine, users
from components import ids
from testkit.accounts import accounts, signed_in
from testkit.app import upstream_env

BODY = {"model": "scripted", "stream": False, "messages": [{"role": "user", "content": "hi"}]}


def test_the_daily_message_limit_says_when_it_resets_and_is_per_user(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, LIMIT_MESSAGES_PER_DAY="2", **env))
    alice, bob = signed_in(server, "alice"), signed_in(server, "bob")
    url = f"{server.url}/v1/chat/completions"
    assert [alice.post(url, json=BODY).status_code for _ in range(2)] == [200, 200]
    asked = len(upstream.requests)
    refused = alice.post(url, json=BODY)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "limit_messages_per_day"
    assert "resets at" in refused.json()["error"]["message"] and int(refused.headers["Retry-After"]) > 0
    assert len(upstream.requests) == asked  # refused before the model was called
    assert alice.get(f"{server.url}/api/usage").json()["left"] == {"messages_today": 0}
    assert bob.post(url, json=BODY).status_code == 200 and bob.get(f"{server.url}/api/usage").json()["left"] == {
        "messages_today": 1}


def test_an_admin_override_and_a_model_allowlist_apply_to_one_user(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    db = create_engine(env["DATABASE_URL"])
    alice = users.find_user(db, "alice")["id"]
    quotas.set_override(db, alice, {"messages_per_day": 1, "models": ["other"]})
    server = serve(upstream_env(upstream, **env))
    url = f"{server.url}/v1/chat/completions"
    session = signed_in(server, "alice")
    wrong_model = session.post(url, json=BODY)
    assert wrong_model.status_code == 403 and wrong_model.json()["error"]["code"] == "model_not_allowed"
    assert session.post(url, json=dict(BODY, model="other")).status_code == 200
    assert session.post(url, json=dict(BODY, model="other")).status_code == 429
    assert signed_in(server, "bob").post(url, json=BODY).status_code == 200  # bob has the (empty) defaults


def test_a_token_budget_counts_the_backends_usage(upstream, serve, tmp_path):
    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, LIMIT_TOKENS_PER_MONTH="1", **env))
    session = signed_in(server, "alice")
    url = f"{server.url}/v1/chat/completions"
    assert session.post(url, json=BODY).status_code == 200  # under budget when it started
    over = session.post(url, json=BODY)
    assert over.status_code == 429 and over.json()["error"]["code"] == "limit_tokens_per_month"


def test_fifty_racing_requests_over_two_instances_pass_exactly_the_limit(upstream, serve, tmp_path, postgres,
                                                                       redis_url):
    import sqlalchemy as sa

    admin = sa.create_engine(postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE race_test"))
    admin.dispose()
    # Deployed as several instances are: one Postgres, one Redis (the limit itself is counted in SQL).
    env = upstream_env(upstream, LIMIT_MESSAGES_PER_DAY="10", REDIS_URL=redis_url,
                       **accounts(tmp_path, postgres.url.rsplit("/", 1)[0] + "/race_test"))
    first, second = serve(env), serve(env)
    token = signed_in(first, "alice").post(f"{first.url}/api/auth/tokens").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    def ask(i):
        """One request, alternating instances."""
        server = (first, second)[i % 2]
        return requests.post(f"{server.url}/v1/chat/completions", json=BODY, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(ask, range(50)))
    assert statuses.count(200) == 10 and statuses.count(429) == 40


def test_the_page_shows_what_is_left_then_which_limit_was_reached_and_keeps_the_question(dash_duo, upstream):
    from selenium.webdriver.common.by import By

    from testkit.browser import committed_history, start, toast, type_and_send, wait_for_answer, wait_until
    from testkit.strings import ZH, ZH_ERRORS

    start(dash_duo, upstream, LIMIT_MESSAGES_PER_DAY="2")
    dash_duo.wait_for_text_to_equal(f"#{ids.USAGE_LEFT}", ZH["leftMessagesToday"].format(n=2))
    type_and_send(dash_duo, "first question")
    wait_for_answer(dash_duo, 0)
    dash_duo.wait_for_text_to_equal(f"#{ids.USAGE_LEFT}", ZH["leftMessagesToday"].format(n=1))
    type_and_send(dash_duo, "second question")
    wait_for_answer(dash_duo, 1)
    dash_duo.wait_for_text_to_equal(f"#{ids.USAGE_LEFT}", ZH["leftMessagesToday"].format(n=0))
    type_and_send(dash_duo, "third question")
    # Which limit, and when it resets; the question stays in the box, and nothing of it is stored.
    wait_until(dash_duo, lambda d: toast(d) == ZH_ERRORS["limit_messages_per_day"], message="no limit message")
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == "third question"
    assert len(dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-message")) == 4
    assert [m["content"] for m in committed_history(dash_duo)][-2:] == [
        "second question", "Answer to: second question (saw 2 earlier messages)"]


def test_asking_in_a_conversation_counts_against_the_same_limit(upstream, serve, tmp_path):
    from testkit.waiting import wait_until

    env = accounts(tmp_path)
    server = serve(upstream_env(upstream, LIMIT_MESSAGES_PER_DAY="1", **env))
    alice = signed_in(server, "alice")
    cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    asked = alice.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "hi", "model": "scripted"})
    assert asked.status_code == 202
    refused = alice.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "again", "model": "scripted"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "limit_messages_per_day"
    def saved():
        """The conversation's messages once the answer is saved."""
        messages = alice.get(f"{server.url}/api/conversations/{cid}").json()["messages"]
        return messages if messages[-1]["status"] == "done" else None

    stored = wait_until(saved, 30, "the answer to be saved")
    assert [(m["role"], m["content"][:2]) for m in stored] == [("user", "hi"), ("assistant", "An")]  # not "again"
    assert alice.post(f"{server.url}/v1/chat/completions", json=BODY).status_code == 429  # one budget for both
