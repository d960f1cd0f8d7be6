"""Server-owned generations over real sockets: ask, follow from any event id, close every viewer, stop, limits,
other users' ids; two gunicorn workers sharing the log files (follow, stop, limits, a killed one); and (with Redis)
two instances sharing the log, cancel across instances and a killed one."""

import http.client
import itertools
import json
import os
import random
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from chat_app import stop_background
from chatcore.answer_logs import Entry, FileBackend, Position
from chatcore import generations as generations_module
from chatcore.generations import HEARTBEAT_SECONDS, MAX_MERGE_SECONDS, MERGE_SECONDS, merge_window, replay
from testkit.accounts import accounts, signed_in
from testkit.app import upstream_env
from testkit.generations import ask, complete_events, ending, follow, live_events, read_events, text_of
from testkit.gunicorn_app import GunicornApp
from testkit.redis_server import RedisServer
from testkit.upstream import Script
from testkit.waiting import wait_until


def stored_answer(session, server, conversation_id):
    """The last stored message of the conversation."""
    return session.get(f"{server.url}/api/conversations/{conversation_id}").json()["messages"][-1]


@pytest.fixture
def alice_app(upstream, serve, tmp_path):
    """(server, alice's session, a conversation id) on an AUTH=password app with memory logs."""
    server = serve(upstream_env(upstream, **accounts(tmp_path)))
    alice = signed_in(server, "alice")
    return server, alice, alice.post(f"{server.url}/api/conversations", json={}).json()["id"]


def assert_resumes_exactly(server, session, gid, answer):
    """Read the whole stream, then resume from every event id: text before + text after = the answer."""
    events = read_events(follow(session, server, gid))
    assert text_of(events) == answer and ending(events) == "[DONE]"
    ids = [event_id for event_id, _ in events if event_id]
    for i, event_id in enumerate(ids):
        before = text_of([e for e in events if e[0] in ids[:i + 1]])
        after = read_events(follow(session, server, gid, event_id))
        assert before + text_of(after) == answer, event_id
        assert ending(after) == "[DONE]"


def test_resume_from_every_event_id_while_running_and_after(upstream, alice_app, monkeypatch):
    # The merge window stays at its narrowest: this test wants many events, and its 100 readers keep the process busy.
    monkeypatch.setattr(generations_module, "MAX_MERGE_SECONDS", MERGE_SECONDS)
    server, alice, cid = alice_app
    answer = "Grüße, 世界! 😀 " * 20
    upstream.script = Script(reply=answer, chunk_chars=3, delay=0.02, split_utf8=True)
    gid = ask(alice, server, cid)
    # While it runs: a viewer per event id, each started as soon as that id arrives.
    events, resumed = [], []
    with ThreadPoolExecutor(max_workers=100) as pool:
        for event_id, data in live_events(follow(alice, server, gid)):
            events.append((event_id, data))
            if event_id:
                before = text_of(events)
                resumed.append((before, pool.submit(lambda i=event_id: read_events(follow(alice, server, gid, i)))))
    assert text_of(events) == answer and len(resumed) > 40
    for before, future in resumed:
        assert before + text_of(future.result()) == answer
    # After it ended: the same from the store (and any id resumes exactly).
    assert stored_answer(alice, server, cid)["content"] == answer
    assert_resumes_exactly(server, alice, gid, answer)


def test_a_300_chunk_burst_and_a_20k_answer_resume_exactly(upstream, alice_app):
    server, alice, cid = alice_app
    burst = "".join(chr(0x4E00 + i) for i in range(300))
    upstream.script = Script(reply=burst, chunk_chars=1)
    assert_resumes_exactly(server, alice, ask(alice, server, cid), burst)
    long_answer = "".join(f"{i % 10}中文" if i % 7 else "\n" for i in range(8_000))
    assert len(long_answer) > 20_000
    upstream.script = Script(reply=long_answer, chunk_chars=50)
    assert_resumes_exactly(server, alice, ask(alice, server, cid), long_answer)


def test_reloads_at_20_random_moments_lose_and_repeat_no_character(upstream, alice_app):
    server, alice, cid = alice_app
    seed = int(os.environ.get("RELOAD_SEED") or random.randrange(1 << 32))
    rng, where = random.Random(seed), f"RELOAD_SEED={seed}"
    print(where)
    answer = "".join(f"第{i}句，世界😀🎉" for i in range(60))
    upstream.script = Script(reply=answer, chunk_chars=3, delay=0.005, split_utf8=True)
    # Where each reload happens: once the viewer has this much text, after a random number of bytes more (cutting
    # an event or a character). The last few wait until the upstream has finished (replayed after the end).
    targets = sorted(rng.randrange(len(answer) * 4 // 5) for _ in range(16))
    targets += sorted(rng.randrange(len(answer) * 4 // 5, len(answer)) for _ in range(4))
    gid = ask(alice, server, cid)
    text, last_id, cuts_while_running, cut_events, cut_characters = "", None, 0, 0, 0
    for n, target in enumerate(targets):
        if n == 16:
            wait_until(lambda: upstream.requests[-1].get("finished"), 30, "the upstream to finish")
        response = follow(alice, server, gid, last_id)
        raw = b""
        while len(text + text_of(complete_events(raw))) <= target:
            piece = response.raw.read(rng.randint(1, 64))
            assert piece, f"the stream ended before the reload ({where})"
            raw += piece
        raw += response.raw.read(rng.randint(0, 400))  # a moment later: any byte of any event
        inside = [i for i in range(max(0, len(raw) - 400), len(raw)) if 0x80 <= raw[i] < 0xC0]
        if inside and rng.random() < 0.5:  # or as the bytes of a character were arriving
            raw = raw[:rng.choice(inside)]
            cut_characters += 1
        cut_events += not raw.endswith(b"\n\n")
        cuts_while_running += not upstream.requests[-1].get("finished")
        response.close()
        kept = complete_events(raw)
        text += text_of(kept)
        last_id = next((event_id for event_id, _ in reversed(kept) if event_id), last_id)
        assert answer.startswith(text), f"reload {n} at {last_id}: lost or repeated text ({where})"
    rest = read_events(follow(alice, server, gid, last_id))
    assert text + text_of(rest) == answer and ending(rest) == "[DONE]", where
    assert cuts_while_running >= 8 and cut_events >= 10 and cut_characters >= 1, where


def test_closing_every_viewer_mid_answer_still_completes_the_answer(upstream, alice_app):
    server, alice, cid = alice_app
    answer = "z" * 400
    upstream.script = Script(reply=answer, chunk_chars=4, delay=0.01)
    gid = ask(alice, server, cid)
    for _ in range(3):
        response = follow(alice, server, gid)
        next(live_events(response))
        response.close()
    wait_until(lambda: stored_answer(alice, server, cid)["status"] == "done", 30, "the answer to be saved")
    stored = stored_answer(alice, server, cid)
    assert stored["content"] == answer and stored["usage"]["completion_tokens"] == 100
    assert upstream.requests[-1]["closed_early"] is None


def test_a_question_asked_for_its_events_streams_the_answer_and_a_closed_one_resumes(upstream, alice_app):
    server, alice, cid = alice_app
    answer = "流式提问 stream " * 30
    upstream.script = Script(reply=answer, chunk_chars=3, delay=0.01)
    asked = lambda: alice.post(f"{server.url}/api/conversations/{cid}/messages", stream=True,  # noqa: E731
                               json={"content": "hi", "model": "scripted"}, headers={"Accept": "text/event-stream"})
    whole = asked()
    assert whole.status_code == 202 and whole.headers["Content-Type"].startswith("text/event-stream")
    events = read_events(whole)
    assert text_of(events) == answer and ending(events) == "[DONE]"
    assert stored_answer(alice, server, cid)["id"] == whole.headers["X-Generation-Id"]
    # Closed mid-answer: the answer goes on; GET …/events from the last id read gives exactly the rest.
    cut = asked()
    head = list(itertools.islice(live_events(cut), 5))
    cut.close()
    rest = read_events(follow(alice, server, cut.headers["X-Generation-Id"], head[-1][0]))
    assert text_of(head) + text_of(rest) == answer and ending(rest) == "[DONE]"
    question = alice.get(f"{server.url}/api/conversations/{cid}").json()["messages"][-2]
    assert question["id"] == cut.headers["X-Question-Id"] and question["content"] == "hi"
    # Someone else's conversation: the usual JSON 404, no stream.
    bob = signed_in(server, "bob")
    refused = bob.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "x"},
                       headers={"Accept": "text/event-stream"})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"


def test_a_viewer_that_never_reads_slows_nothing(upstream, alice_app):
    server, alice, cid = alice_app
    answer = "慢" * 20_000  # 20,000 one-character events: far more than the stalled viewer's socket buffers hold
    upstream.script = Script(reply=answer, chunk_chars=1)
    gid = ask(alice, server, cid)
    stalled = follow(alice, server, gid)  # headers read, body never
    events = read_events(follow(alice, server, gid))
    assert text_of(events) == answer and ending(events) == "[DONE]"
    assert stored_answer(alice, server, cid)["status"] == "done" and upstream.requests[-1]["finished"]
    stalled.close()


def test_text_waiting_for_its_merge_window_reaches_viewers_while_the_upstream_is_quiet(upstream, alice_app):
    server, alice, cid = alice_app
    gate = threading.Event()
    # Four reasoning chunks at once (the last ones inside the first's merge window), then nothing until the gate.
    upstream.script = Script(reasoning="abcdefgh", reply="done", chunk_chars=2, answer_gate=gate)
    try:
        gid = ask(alice, server, cid)
        viewer = live_events(follow(alice, server, gid))
        started, thought = time.monotonic(), ""
        while thought != "abcdefgh":
            delta = json.loads(next(viewer)[1])["choices"][0]["delta"]
            thought += delta.get("reasoning_content", "")
        # The merger logged them, not the next heartbeat or the end.
        assert time.monotonic() - started < HEARTBEAT_SECONDS / 2
    finally:
        gate.set()
    rest = list(viewer)
    assert text_of(rest) == "done" and ending(rest) == "[DONE]"


def test_the_first_text_goes_out_at_once_and_the_rest_is_merged(upstream, alice_app):
    server, alice, cid = alice_app
    # Chunks 5 ms apart: the first comes within the merge window of the log's start, the others within each other's.
    upstream.script = Script(reply="abcdefghijklmnop", chunk_chars=2, delay=0.005)
    gid = ask(alice, server, cid)
    chunks = [json.loads(data)["choices"] for _, data in read_events(follow(alice, server, gid)) if data != "[DONE]"]
    deltas = [choices[0]["delta"]["content"] for choices in chunks if choices and "content" in choices[0]["delta"]]
    # The first text is not held back (the log's first event is not text), as on /v1; what follows is merged.
    assert deltas[0] == "ab" and "".join(deltas) == "abcdefghijklmnop" and len(deltas) < 8


def hold_the_interpreter(seconds):
    """Keep every other thread of this process waiting for `seconds`, in C calls that do not let go of the
    interpreter (each made to take at least 0.1 s): a busy process, as an event loop with too much to do is."""
    count, started = 1 << 20, time.monotonic()
    while (call_started := time.monotonic()) - started < seconds:
        sum(range(count))
        if time.monotonic() - call_started < 0.1:
            count *= 2


def test_a_busy_process_widens_its_merge_window_loses_no_text_and_narrows_it_when_idle(upstream, alice_app):
    assert merge_window(-0.001) == merge_window(0.0) == MERGE_SECONDS and merge_window(10) == MAX_MERGE_SECONDS
    server, alice, cid = alice_app
    generations = server.app.server.extensions["chat.stop_background"].__self__
    answer = "".join(f"w{i} " for i in range(200))
    upstream.script = Script(reply=answer, chunk_chars=2, delay=0.01)  # ~4 s of 2-character chunks
    gid = ask(alice, server, cid)
    with ThreadPoolExecutor(2) as pool:
        events = pool.submit(lambda: read_events(follow(alice, server, gid)))
        windows, busy = [], threading.Event()

        def watch():
            """The window, as often as this thread gets to run, while the process is busy."""
            while not busy.is_set():
                windows.append(generations.merge_seconds)
                time.sleep(0.005)

        watcher = pool.submit(watch)
        hold_the_interpreter(1.5)
        busy.set()
        watcher.result()
        events = events.result(30)
    # The merger's ticks came late, so the window widened; the text is whole all the same.
    assert max(windows) >= MERGE_SECONDS + 0.02
    assert text_of(events) == answer and ending(events) == "[DONE]"
    wait_until(lambda: generations.merge_seconds == MERGE_SECONDS, 5, "the window to narrow with no answer running")


def test_the_store_keeps_up_with_a_running_answer(upstream, alice_app):
    server, alice, cid = alice_app
    answer = "".join(f"w{i} " for i in range(100))
    upstream.script = Script(reply=answer, chunk_chars=4, delay=0.03)  # ~3 s
    ask(alice, server, cid)
    seen = []  # the stored answer's text each time it changed while it ran
    while (stored := stored_answer(alice, server, cid))["status"] == "streaming":
        if stored["content"] and stored["content"] not in seen:
            seen.append(stored["content"])
        time.sleep(0.05)
    # Saved as it grows (about once a second, its first text included), each a start of the final answer.
    assert len(seen) >= 2 and all(answer.startswith(text) for text in seen) and stored["content"] == answer


def test_stop_ends_it_for_every_viewer_and_closes_the_upstream_within_a_second(upstream, alice_app):
    server, alice, cid = alice_app
    upstream.script = Script(reply="y" * 4000, chunk_chars=2, delay=0.02)  # ~40 s if not stopped
    gid = ask(alice, server, cid)
    viewers = [live_events(follow(alice, server, gid)) for _ in range(2)]
    seen = [[next(viewer)] for viewer in viewers]
    stopped_at = time.monotonic()
    assert alice.post(f"{server.url}/api/generations/{gid}/cancel").json() == {"cancelled": True}
    closed = upstream.wait_for_close(timeout=5)
    assert closed is not None and closed - stopped_at < 1.0
    for viewer, events in zip(viewers, seen):
        events.extend(viewer)
        assert ending(events) == "cancelled"
    stored = stored_answer(alice, server, cid)
    assert stored["status"] == "interrupted" and stored["content"] == text_of(seen[0]) == text_of(seen[1])
    assert alice.post(f"{server.url}/api/generations/{gid}/cancel").json() == {"cancelled": False}
    assert ending(read_events(follow(alice, server, gid))) == "interrupted"


def test_another_users_generation_is_not_found_on_every_route(upstream, alice_app):
    server, alice, cid = alice_app
    bob = signed_in(server, "bob")
    upstream.script = Script(reply="secret " * 50, chunk_chars=5, delay=0.01)
    gid = ask(alice, server, cid)
    attempts = [bob.get(f"{server.url}/api/generations/{gid}/events"),
                bob.post(f"{server.url}/api/generations/{gid}/cancel"),
                bob.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "mine now"}),
                alice.get(f"{server.url}/api/generations/{'0' * 32}/events"),
                alice.get(f"{server.url}/api/generations/not-an-id/events")]
    for response in attempts:
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.url
    # The question's id is a message of alice's too, but not a generation.
    question = alice.get(f"{server.url}/api/conversations/{cid}").json()["messages"][0]["id"]
    assert alice.get(f"{server.url}/api/generations/{question}/events").status_code == 404
    assert ending(read_events(follow(alice, server, gid))) == "[DONE]"


def test_bad_input_is_refused_and_stores_nothing(upstream, alice_app):
    server, alice, cid = alice_app
    url = f"{server.url}/api/conversations/{cid}/messages"
    for body, code in [({"content": "q", "stream": True}, "unknown_field"), ({"content": ""}, "empty_question"),
                       ({"content": "q", "model": "nope"}, "model_not_found"), ({"content": 5}, "invalid_messages"),
                       ({"content": "q", "temperature": 9}, "invalid_temperature"),
                       ({"content": "q", "multi_turn": "yes"}, "invalid_multi_turn")]:
        response = alice.post(url, json=body)
        assert response.status_code in (400, 404) and response.json()["error"]["code"] == code, body
    assert alice.get(f"{server.url}/api/conversations/{cid}").json()["messages"] == []
    gid = ask(alice, server, cid)
    bad_id = follow(alice, server, gid, "nonsense")
    assert bad_id.status_code == 400 and bad_id.json()["error"]["code"] == "invalid_event_id"


def test_multi_turn_context_comes_from_the_store(upstream, alice_app):
    server, alice, cid = alice_app
    for question, multi_turn in (("q1", True), ("q2", True), ("q3", False)):
        read_events(follow(alice, server, ask(alice, server, cid, question, multi_turn=multi_turn)))
    assert [m["content"] for m in alice.get(f"{server.url}/api/conversations/{cid}").json()["messages"]] == [
        "q1", "Answer to: q1 (saw 0 earlier messages)", "q2", "Answer to: q2 (saw 2 earlier messages)",
        "q3", "Answer to: q3 (saw 0 earlier messages)"]


def test_concurrent_answers_are_limited_per_user(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, MAX_CONCURRENT_ANSWERS="2", **accounts(tmp_path)))
    alice, bob = signed_in(server, "alice"), signed_in(server, "bob")
    conversation = lambda session: session.post(f"{server.url}/api/conversations", json={}).json()["id"]  # noqa: E731
    upstream.script = Script(reply="w" * 2000, chunk_chars=2, delay=0.02)
    running = [ask(alice, server, conversation(alice)) for _ in range(2)]
    third = conversation(alice)
    refused = alice.post(f"{server.url}/api/conversations/{third}/messages", json={"content": "one more"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_answers"
    assert "limit is 2" in refused.json()["error"]["message"]
    assert alice.get(f"{server.url}/api/conversations/{third}").json()["messages"] == []
    ask(bob, server, conversation(bob))  # another user has a limit of their own
    alice.post(f"{server.url}/api/generations/{running[0]}/cancel")
    read_events(follow(alice, server, running[0]))
    wait_until(lambda: alice.post(f"{server.url}/api/conversations/{third}/messages",
                                  json={"content": "now"}).status_code == 202, 10, "a free slot")


def test_an_admin_can_give_one_user_fewer_concurrent_answers(upstream, serve, tmp_path):
    from chatcore import quotas
    from chatcore.store import create_engine, users

    env = accounts(tmp_path)
    db = create_engine(env["DATABASE_URL"])
    quotas.set_override(db, users.find_user(db, "alice")["id"], {"concurrent_answers": 1})
    server = serve(upstream_env(upstream, **env))  # everyone else: the default of 3
    alice = signed_in(server, "alice")
    upstream.script = Script(reply="w" * 2000, chunk_chars=2, delay=0.02)
    first, second = (alice.post(f"{server.url}/api/conversations", json={}).json()["id"] for _ in range(2))
    ask(alice, server, first)
    refused = alice.post(f"{server.url}/api/conversations/{second}/messages", json={"content": "too"})
    assert refused.status_code == 429 and "limit is 1" in refused.json()["error"]["message"]



def test_asking_counts_against_the_rate_limit(upstream, serve):
    server = serve(upstream_env(upstream, RATE_LIMIT="2/minute"))
    client = requests.Session()
    cid = client.post(f"{server.url}/api/conversations", json={}).json()["id"]
    url = f"{server.url}/api/conversations/{cid}/messages"
    statuses = [client.post(url, json={"content": f"q{i}"}).status_code for i in range(3)]
    assert statuses == [202, 202, 429] and len(upstream.requests) <= 2

# --- several instances: the log in Redis ---------------------------------------------------------------


@pytest.fixture
def shared_store(upstream, redis_url, tmp_path, database_url):
    """The environment of app instances that share a store (a SQLite file, then a Postgres database) and a Redis."""
    return upstream_env(upstream, REDIS_URL=redis_url, **accounts(tmp_path, database_url))


def test_two_instances_share_the_log_and_cancel(upstream, serve, shared_store):
    first, second = serve(shared_store), serve(shared_store)
    alice = signed_in(first, "alice")
    cid = alice.post(f"{first.url}/api/conversations", json={}).json()["id"]
    answer = "两个实例 share one log. " * 20
    upstream.script = Script(reply=answer, chunk_chars=3, delay=0.005)
    gid = ask(alice, first, cid)
    events = read_events(follow(alice, second, gid))  # the session cookie is good on both (one DATA_DIR's key)
    assert text_of(events) == answer and ending(events) == "[DONE]"
    ids = [event_id for event_id, _ in events if event_id]
    middle = ids[len(ids) // 2]
    before = text_of(events[:[e[0] for e in events].index(middle) + 1])
    assert before + text_of(read_events(follow(alice, first, gid, middle))) == answer

    upstream.script = Script(reply="y" * 4000, chunk_chars=2, delay=0.02)
    gid = ask(alice, first, cid)
    viewer = live_events(follow(alice, first, gid))
    seen = [next(viewer)]
    stopped_at = time.monotonic()
    assert signed_in(second, "alice").post(f"{second.url}/api/generations/{gid}/cancel").json() == {"cancelled": True}
    closed = upstream.wait_for_close(timeout=5)
    assert closed is not None and closed - stopped_at < 1.0
    seen.extend(viewer)
    assert ending(seen) == "cancelled"
    assert stored_answer(alice, second, cid)["content"] == text_of(seen)


def test_a_killed_instance_leaves_its_answer_interrupted_and_kept(upstream, serve, shared_store, tmp_path):
    upstream.script = Script(reply="k" * 4000, chunk_chars=2, delay=0.02)
    survivor = serve(shared_store)
    with GunicornApp(shared_store) as doomed:
        alice = signed_in(doomed, "alice")
        cid = alice.post(f"{doomed.url}/api/conversations", json={}).json()["id"]
        gid = ask(alice, doomed, cid)
        viewer = live_events(follow(alice, survivor, gid))
        seen = [next(viewer) for _ in range(5)]
        master = psutil.Process(doomed.process.pid)
        for process in [*master.children(recursive=True), master]:
            process.send_signal(signal.SIGKILL)
        seen.extend(viewer)  # ends by itself: no heartbeat for STALE_SECONDS
    assert ending(seen) == "interrupted"
    kept = stored_answer(alice, survivor, cid)
    assert kept["status"] == "interrupted" and kept["content"] == text_of(seen) and len(kept["content"]) >= 10
    # A later reader gets the kept answer from the store, and a new question works on the survivor.
    assert text_of(read_events(follow(alice, survivor, gid))) == kept["content"]
    upstream.script = Script()
    alice = signed_in(survivor, "alice")
    retry = read_events(follow(alice, survivor, ask(alice, survivor, cid, "again")))
    assert ending(retry) == "[DONE]"


def usage_events(env):
    """How many answers the store has counted against quotas."""
    import sqlalchemy as sa

    from chatcore.store import create_engine
    from chatcore.store.schema import usage_events as table

    with create_engine(env["DATABASE_URL"]).connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def refused_and_nothing_stored(session, server, cid, before):
    """POST a question that must be refused with 503 log_unavailable, leaving the conversation as it was."""
    response = session.post(f"{server.url}/api/conversations/{cid}/messages", json={"content": "lost?"})
    assert response.status_code == 503 and response.json()["error"]["code"] == "log_unavailable", response.text
    assert response.json()["error"]["type"] == "server_error" and response.headers["Retry-After"] == "5"
    assert "Traceback" not in response.text and "redis" not in response.text.lower()
    assert session.get(f"{server.url}/api/conversations/{cid}").json() == before


def test_asking_while_redis_is_down_answers_503_and_stores_nothing(upstream, serve, redis_server, tmp_path):
    env = upstream_env(upstream, REDIS_URL=redis_server.url, **accounts(tmp_path))
    server = serve(env)
    alice = signed_in(server, "alice")
    cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    assert ending(read_events(follow(alice, server, ask(alice, server, cid, "before")))) == "[DONE]"
    before = alice.get(f"{server.url}/api/conversations/{cid}").json()
    redis_server.stop()
    refused_and_nothing_stored(alice, server, cid, before)
    # Not even the title of a new conversation, the quota count or a request to the model.
    fresh = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    refused_and_nothing_stored(alice, server, fresh, alice.get(f"{server.url}/api/conversations/{fresh}").json())
    assert usage_events(env) == 1 and len(upstream.requests) == 1
    redis_server.start()  # the same port, empty: asking works again
    assert ending(read_events(follow(alice, server, ask(alice, server, fresh, "after")))) == "[DONE]"


def test_a_log_redis_refuses_to_write_leaves_no_answer_count_or_quota(upstream, serve, tmp_path):
    import redis

    # Redis up, counting works, but XADD (the log) is refused: the failure comes after the count was taken.
    with RedisServer("--user", "default", "on", "nopass", "~*", "&*", "+@all", "-xadd") as no_log:
        env = upstream_env(upstream, REDIS_URL=no_log.url, **accounts(tmp_path))
        server = serve(env)
        alice = signed_in(server, "alice")
        cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
        refused_and_nothing_stored(alice, server, cid, alice.get(f"{server.url}/api/conversations/{cid}").json())
        client = redis.Redis.from_url(no_log.url)
        assert [client.zcard(key) for key in client.keys("chat:running:*")] in ([], [0])
        assert client.keys("chat:generation:*") == [] and usage_events(env) == 0 and upstream.requests == []


def test_redis_logs_expire_after_the_answer_is_saved(upstream, serve, shared_store, redis_url):
    import redis

    server = serve(shared_store)
    alice = signed_in(server, "alice")
    cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    gid = ask(alice, server, cid)
    read_events(follow(alice, server, gid))
    client = redis.Redis.from_url(redis_url)
    key = f"chat:generation:{gid}"
    wait_until(lambda: 0 < client.ttl(key) <= 30, 10, "the log to get its expiry")
    assert [client.zcard(key) for key in client.keys("chat:running:*")] in ([], [0])


@pytest.mark.parametrize("log", ["files", "Redis"])
def test_a_closed_app_ends_its_background_loops(upstream, serve, request, log):
    server = serve(upstream_env(upstream, **({"REDIS_URL": request.getfixturevalue("redis_url")} if log == "Redis"
                                             else {})))
    generations = server.app.server.extensions["chat.stop_background"].__self__
    backend = generations.backend
    if log == "files":  # following another worker's log starts the reader of copies too
        beat = Entry("beat", b": beat\n\n", Position(1, 0, 0))
        FileBackend(backend.folder).append("g", beat)
        assert backend.read("g", 0, 5) == [beat]

    def loops():
        """The threads running a method of the app's generations or of its log backend."""
        return [thread for thread in threading.enumerate()
                if getattr(getattr(thread, "_target", None), "__self__", None) in (generations, backend)]

    # The heartbeat, the merger, the Stop listener (and the reader of copies).
    assert len(loops()) == (4 if log == "files" else 3)
    stop_background(server.app.server)
    wait_until(lambda: not loops(), 5, "the loops to end")


# --- under gunicorn (gevent workers, file logs) ----------------------------------------------------------


def test_gunicorn_reload_drops_no_answer_and_any_worker_serves_any_viewer(upstream):
    upstream.script = Script(reply=lambda body: body["messages"][-1]["content"] * 40, chunk_chars=5, delay=0.2)
    # AUTH=none, the shipped 2 gevent workers, no Redis: the logs are files both workers read.
    with GunicornApp(upstream_env(upstream, MAX_CONCURRENT_ANSWERS="10")) as app:
        client = requests.Session()
        cid = client.post(f"{app.url}/api/conversations", json={}).json()["id"]
        questions = [f"hup-{i}|" for i in range(6)]
        for question in questions:
            ask(client, app, cid, question)
        wait_until(lambda: all(r.get("first_content_at") for r in upstream.requests[-6:]), 30, "answers to start")
        # No viewer holds the old workers open: they stay for the answers alone (~10 s each).
        app.process.send_signal(signal.SIGHUP)
        stored = lambda: client.get(f"{app.url}/api/conversations/{cid}").json()["messages"]  # noqa: E731
        answers = lambda: [(m["content"], m["status"]) for m in stored() if m["role"] == "assistant"]  # noqa: E731
        wait_until(lambda: answers() == [(q * 40, "done") for q in questions], 60, "every answer to be saved")
        # After the reload: four viewers of one answer, on either worker.
        gid = ask(client, app, cid, "after|")
        with ThreadPoolExecutor(4) as pool:
            views = [pool.submit(lambda: read_events(follow(requests.Session(), app, gid))) for _ in range(4)]
            for view in views:
                events = view.result(timeout=60)
                assert text_of(events) == "after|" * 40 and ending(events) == "[DONE]"


def test_stop_ends_an_answer_at_once_even_while_the_upstream_is_silent(upstream):
    upstream.script = Script(reply="ab" * 20, chunk_chars=2, delay=2)  # one chunk, then 2 s of silence each
    with GunicornApp(upstream_env(upstream, REQUEST_TIMEOUT="30", WEB_CONCURRENCY="1")) as app:
        client = requests.Session()
        cid = client.post(f"{app.url}/api/conversations", json={}).json()["id"]
        gid = ask(client, app, cid)
        viewer = live_events(follow(client, app, gid))
        seen = [next(viewer)]
        stopped_at = time.monotonic()
        assert client.post(f"{app.url}/api/generations/{gid}/cancel").json() == {"cancelled": True}
        seen.extend(viewer)
        assert ending(seen) == "cancelled" and time.monotonic() - stopped_at < 1.0
        assert stored_answer(client, app, cid)["status"] == "interrupted"
        assert upstream.wait_for_close(timeout=10) is not None  # it notices at its second write after the close


def serving_worker(app, response):
    """The pid of the gunicorn worker that holds a streaming response's connection."""
    return worker_holding(app, response.raw._connection.sock.getsockname()[1])


def worker_holding(app, port):
    """The pid of the gunicorn worker that accepted the connection from this local port (None until one has)."""
    for worker in psutil.Process(app.process.pid).children():
        if any(c.raddr and c.raddr.port == port for c in worker.net_connections("tcp")):
            return worker.pid
    return None


def connection_on(app, wanted):
    """A connection that a worker `wanted(pid)` accepted (new connections until one is: the kernel spreads them)."""
    def attempt():
        connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
        connection.connect()
        worker = wait_until(lambda: worker_holding(app, connection.sock.getsockname()[1]), 10, "the connection taken")
        return connection if wanted(worker) else connection.close()

    return wait_until(attempt, 30, "a connection to the wanted worker")


def send(connection, method, path, body=None):
    """One JSON request on the connection; returns (status, JSON body)."""
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def request_on(app, wanted, method, path, body=None):
    """Send a request on a connection that a worker `wanted(pid)` accepted; returns (status, JSON body)."""
    return send(connection_on(app, wanted), method, path, body)


def generating_worker(app, upstream):
    """The pid of the gunicorn worker that holds a connection to the upstream (the one generating now)."""
    port = int(upstream.url.split(":")[2].split("/")[0])
    for worker in psutil.Process(app.process.pid).children():
        if any(c.raddr and c.raddr.port == port for c in worker.net_connections("tcp")):
            return worker.pid
    return None


def viewer_on(app, gid, wanted, last_event_id=None):
    """A viewer of the answer whose connection landed on a worker `wanted(pid)` accepts: connections are spread
    over the workers by chance, so it tries until one does."""
    def attempt():
        response = follow(requests.Session(), app, gid, last_event_id)
        return response if wanted(serving_worker(app, response)) else response.close()

    return wait_until(attempt, 30, "a viewer on the wanted worker")


def test_a_viewer_on_the_other_worker_follows_the_answer_live_to_the_end(upstream):
    answer = "".join(f"{i:03d}字 " for i in range(200))  # 1,000 characters, ~6 s
    upstream.script = Script(reply=answer, chunk_chars=5, delay=0.03)
    # The shipped 2 gevent workers, no Redis: the generating worker writes the log to a file the other one reads.
    with GunicornApp(upstream_env(upstream)) as app:
        client = requests.Session()
        cid = client.post(f"{app.url}/api/conversations", json={}).json()["id"]
        gid = ask(client, app, cid)
        generator = wait_until(lambda: generating_worker(app, upstream), 30, "the answer to start")
        # A viewer on the generating worker reads a few events; then, on the other worker, a new viewer and one
        # resuming from its last id.
        on_generator = viewer_on(app, gid, lambda worker: worker == generator)
        head = list(itertools.islice(live_events(on_generator), 3))
        on_generator.close()
        elsewhere = {"fresh": viewer_on(app, gid, lambda worker: worker != generator),
                     "resumed": viewer_on(app, gid, lambda worker: worker != generator, head[-1][0])}
        assert upstream.requests[-1].get("finished") is None  # they joined while the answer ran
        fresh, resumed = (read_events(elsewhere[kind]) for kind in ("fresh", "resumed"))
        assert text_of(fresh) == answer and ending(fresh) == "[DONE]"
        assert text_of(head) + text_of(resumed) == answer and ending(resumed) == "[DONE]"
        # Live: the log's events as they come (tens over ~6 s; fewer if the worker is busy and merges over a wider
        # window), not the store's partial answer once a second.
        assert len([event for event in fresh if event[0]]) > 12


def test_stop_on_the_other_worker_ends_the_answer_for_every_viewer_within_a_second(upstream):
    upstream.script = Script(reply="ab" * 20, chunk_chars=2, delay=2)  # one chunk, then 2 s of silence each
    with GunicornApp(upstream_env(upstream, REQUEST_TIMEOUT="30")) as app:
        client = requests.Session()
        cid = client.post(f"{app.url}/api/conversations", json={}).json()["id"]
        gid = ask(client, app, cid)
        generator = wait_until(lambda: generating_worker(app, upstream), 30, "the answer to start")
        viewers = [live_events(viewer_on(app, gid, lambda worker, here=here: (worker == generator) == here))
                   for here in (True, False)]
        seen = [[next(viewer)] for viewer in viewers]
        other_worker = connection_on(app, lambda worker: worker != generator)  # found before the clock starts
        stopped_at = time.monotonic()
        assert send(other_worker, "POST", f"/api/generations/{gid}/cancel") == (200, {"cancelled": True})
        for viewer, events in zip(viewers, seen):
            events.extend(viewer)
        assert [ending(events) for events in seen] == ["cancelled", "cancelled"]
        assert time.monotonic() - stopped_at < 1.0
        assert stored_answer(client, app, cid)["status"] == "interrupted"
        assert upstream.wait_for_close(timeout=10) is not None


def test_the_per_user_limit_holds_across_workers(upstream):
    upstream.script = Script(reply="w" * 2000, chunk_chars=2, delay=0.02)  # ~20 s each
    with GunicornApp(upstream_env(upstream, MAX_CONCURRENT_ANSWERS="3")) as app:
        client = requests.Session()
        workers = lambda: [worker.pid for worker in psutil.Process(app.process.pid).children()]  # noqa: E731
        first, second = wait_until(lambda: len(workers()) == 2 and workers(), 30, "both workers")

        def ask_on(worker):
            """Ask in a new conversation on that worker; the status."""
            cid = client.post(f"{app.url}/api/conversations", json={}).json()["id"]
            return request_on(app, lambda pid: pid == worker, "POST", f"/api/conversations/{cid}/messages",
                              {"content": "hi", "model": "scripted"})

        assert [ask_on(worker)[0] for worker in (first, first, second)] == [202, 202, 202]
        refused = [ask_on(worker) for worker in (first, second)]
        assert [status for status, _ in refused] == [429, 429]
        assert all(body["error"]["code"] == "too_many_answers" for _, body in refused)


def test_a_killed_worker_leaves_its_answer_interrupted_for_viewers_on_the_other_worker(upstream):
    upstream.script = Script(reply="k" * 4000, chunk_chars=2, delay=0.02)  # ~40 s if not cut
    with GunicornApp(upstream_env(upstream)) as app:
        client = requests.Session()
        cid = client.post(f"{app.url}/api/conversations", json={}).json()["id"]
        gid = ask(client, app, cid)
        generator = wait_until(lambda: generating_worker(app, upstream), 30, "the answer to start")
        response = viewer_on(app, gid, lambda worker: worker != generator)
        viewer = live_events(response)
        seen = []
        while len(text_of(seen)) < 10:
            seen.append(next(viewer))
        psutil.Process(generator).send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        # A viewer that would follow the dead answer forever: its connection is ended, so the test fails, not hangs.
        watchdog = threading.Timer(30, response.raw._connection.sock.shutdown, [socket.SHUT_RDWR])
        watchdog.start()
        try:
            seen.extend(viewer)  # ends by itself: the log has had no heartbeat for STALE_SECONDS
        except requests.exceptions.ChunkedEncodingError:
            pytest.fail("the viewer still followed the dead answer 30 s after its worker was killed")
        watchdog.cancel()
        assert ending(seen) == "interrupted" and time.monotonic() - killed_at < 15
        kept = stored_answer(client, app, cid)
        assert kept["status"] == "interrupted" and kept["content"] == text_of(seen) and len(kept["content"]) >= 10
        upstream.script = Script()
        assert ending(read_events(follow(client, app, ask(client, app, cid, "again")))) == "[DONE]"


def test_a_replay_from_the_store_never_moves_a_viewer_back():
    # The viewer read 12 answer characters from the log; the store has saved 10 of them, and more reasoning.
    message = {"id": "g", "content": "0123456789", "reasoning": "r" * 30, "status": "streaming", "created_at": 0}
    frame = replay(message, Position(7, 12, 20))
    assert frame.count(b"id: ") == 1 and b"id: 0-12-30\n" in frame and b'"reasoning_content":"rrrrrrrrrr"' in frame
