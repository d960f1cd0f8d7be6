"""`gunicorn chat_app:server` with the shipped config (gevent workers): many long streams at once, nothing lost,
no key in logs, the upstream client's timeouts and closes still work on the event loop, the app built once in the
master starts its work beside requests in each worker, and a stop sent while a worker boots stops it."""

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from testkit.api_client import assert_closing_the_stream_closes_the_upstream_within_a_second
from testkit.app import TEST_KEY, upstream_env
from testkit.gunicorn_app import ROOT, GunicornApp
from testkit.load import one_stream, parse_answer
from testkit.providers import providers_file
from testkit.upstream import Script, free_port
from testkit.waiting import wait_until


@pytest.fixture
def gunicorn_app(upstream):
    """The app under gunicorn with the repo's gunicorn.conf.py, against the scripted upstream."""
    with GunicornApp(upstream_env(upstream)) as app:
        yield app


def stream_answer(url, question):
    """Ask and read the whole stream; returns the answer text."""
    response = requests.post(f"{url}/v1/chat/completions", stream=True, timeout=60, json={
        "model": "scripted", "stream": True, "messages": [{"role": "user", "content": question}]})
    response.raise_for_status()
    text = ""
    for line in response.iter_lines():
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            text += chunk["choices"][0]["delta"].get("content") or ""
    return text


def test_shipped_config_streams_many_answers_at_once(upstream, gunicorn_app):
    url = gunicorn_app.url
    # Each answer takes ~2 s to stream; 60 at once only finish together if they really run concurrently.
    upstream.script = Script(reply=lambda body: body["messages"][-1]["content"] * 40, chunk_chars=8, delay=0.05)
    questions = [f"q{i:03d}-" for i in range(60)]
    with ThreadPoolExecutor(max_workers=60) as pool:
        answers = list(pool.map(lambda q: stream_answer(url, q), questions))
    assert answers == [q * 40 for q in questions]
    # Every stream had started before the first one finished: none waited for another to end.
    assert max(r["started"] for r in upstream.requests) < min(r["finished"] for r in upstream.requests)
    log = gunicorn_app.log()
    assert "Using worker: web.gevent_worker" in log and TEST_KEY not in log


def test_shipped_config_holds_300_streams_open_at_once(upstream, gunicorn_app):
    # ~4.6 s answers, all 300 requested at once (raw sockets, like the concurrency benchmark's client).
    upstream.script = Script(reply=lambda body: body["messages"][-1]["content"] * 30, chunk_chars=8, delay=0.2)
    questions = [f"s{i:04d}-" for i in range(300)]

    async def all_streams():
        counter = {"now": 0, "peak": 0}
        url = f"{gunicorn_app.url}/v1/chat/completions"
        return await asyncio.gather(*(one_stream(url, q, 0, counter) for q in questions)), counter["peak"]

    results, peak = asyncio.run(all_streams())
    assert [error for _, _, error in results] == [None] * 300
    assert [parse_answer(raw) for _, raw, _ in results] == [(q * 30, None) for q in questions]
    assert peak == 300 and len(upstream.requests) == 300
    assert max(r["started"] for r in upstream.requests) < min(r["finished"] for r in upstream.requests)


def test_closing_a_stream_closes_the_upstream_request_within_a_second(upstream, gunicorn_app):
    assert_closing_the_stream_closes_the_upstream_within_a_second(gunicorn_app, upstream)


def test_closing_a_stream_mid_burst_closes_the_upstream_request_within_a_second(upstream, gunicorn_app):
    assert_closing_the_stream_closes_the_upstream_within_a_second(gunicorn_app, upstream, burst=True)


def test_a_burst_of_300_one_character_chunks_arrives_exact_in_far_fewer_events(upstream, gunicorn_app):
    answer = "".join(f"{i % 10}中" if i % 7 else "\n" for i in range(200))[:300]
    upstream.script = Script(reply=answer, chunk_chars=1)
    response = requests.post(f"{gunicorn_app.url}/v1/chat/completions", stream=True, timeout=60, json={
        "model": "scripted", "stream": True, "messages": [{"role": "user", "content": "burst"}]})
    events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith(b"data: {")]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == answer
    assert len(events) < 100  # the default merge window, on a busy machine too


def test_a_slow_upstreams_deltas_arrive_as_they_come(upstream, gunicorn_app):
    import threading

    gate = threading.Event()
    upstream.script = Script(reply="answer", reasoning="thinking", chunk_chars=4, answer_gate=gate)
    response = requests.post(f"{gunicorn_app.url}/v1/chat/completions", stream=True, timeout=60, json={
        "model": "scripted", "stream": True, "messages": [{"role": "user", "content": "slow"}]})
    lines = response.iter_lines()
    thought = ""
    while thought != "thinking":  # all of the reasoning, while the upstream still waits to send the answer
        line = next(lines)
        if line.startswith(b"data: {"):
            thought += json.loads(line[6:])["choices"][0]["delta"].get("reasoning_content") or ""
    assert not gate.is_set()
    gate.set()
    rest = [json.loads(line[6:]) for line in lines if line.startswith(b"data: {")]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in rest) == "answer"


def test_upstream_read_timeouts_fire_under_the_event_loop(upstream):
    with GunicornApp(upstream_env(upstream, REQUEST_TIMEOUT="1")) as app:
        # Before the headers: an HTTP error.
        upstream.script = Script(hang_before_headers=3)
        response = requests.post(f"{app.url}/v1/chat/completions", timeout=10, json={
            "model": "scripted", "stream": True, "messages": [{"role": "user", "content": "hang"}]})
        assert (response.status_code, response.json()["error"]["code"]) == (504, "upstream_timeout")
        # Mid-stream (the second chunk comes too late): the stream ends with the first chunk and an error event.
        upstream.script = Script(reply="ab", chunk_chars=1, delay=3)
        response = requests.post(f"{app.url}/v1/chat/completions", stream=True, timeout=10, json={
            "model": "scripted", "stream": True, "messages": [{"role": "user", "content": "stall"}]})
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith(b"data: {")]
        assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices")) == "a"
        assert events[-1]["error"]["code"] == "upstream_timeout"


def test_each_worker_starts_its_own_background_work_after_the_fork(tmp_path, upstream):
    # The app is built once, in the master (preload_app), and the workers are forked from it. An "auto" model list
    # is read by each worker as it starts, before anyone asks (/healthz is 200 only once a list is there, and does
    # not ask for one); the master reads none, and keeps no database file open for the workers to share.
    upstream.script = Script(models=("scripted", "second"))
    env = providers_file(tmp_path, f'[[providers]]\nname = "alpha"\nbase_url = "{upstream.url}"\n'
                                   'api_key_env = "ALPHA_KEY"\nmodels = "auto"\n')
    with GunicornApp(env) as app:
        master = psutil.Process(app.process.pid)
        wait_until(lambda: len(upstream.gets) == 2, 30, "both workers to read the model list")
        assert len(master.children()) == 2
        assert not [f.path for f in master.open_files() if "chat.db" in f.path]
        models = requests.get(f"{app.url}/v1/models", timeout=5).json()["data"]
        assert [m["id"] for m in models] == ["alpha/scripted", "alpha/second"]
    assert upstream.gets == ["/v1/models", "/v1/models"]


# The shipped config, with the window between a worker's fork and gunicorn's own signal handlers made wide.
SLOW_BOOT = """
exec(open({shipped!r}).read())
_shipped_post_fork = post_fork


def post_fork(server, worker):
    _shipped_post_fork(server, worker)
    open({booting!r}, "w").close()
    time.sleep(5)
"""


def test_a_stop_sent_while_a_worker_boots_is_not_lost(tmp_path, upstream):
    # gunicorn's master handlers, which the new worker runs until it installs its own, only queue a signal for the
    # master's loop: without the shipped post_fork, the worker ignored the TERM and the master waited
    # graceful_timeout (here 60 s) to kill it.
    booting = tmp_path / "booting"
    config = tmp_path / "slow_boot.py"
    config.write_text("import time\n" + SLOW_BOOT.format(shipped=str(ROOT / "gunicorn.conf.py"), booting=str(booting)))
    env = {**os.environ, **upstream_env(upstream), "PORT": str(free_port()), "WEB_CONCURRENCY": "1",
           "GRACEFUL_TIMEOUT": "60"}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "chat_app:server", "-c", str(config)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(booting.exists, 60, "a worker to boot")
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
