"""`gunicorn chat_app:server` with the shipped config: many long streams at once, nothing lost, no key in logs."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import TEST_KEY, upstream_env
from tests.gunicorn_runner import GunicornApp
from tests.scripted_upstream import Script


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
    assert "gthread" in log and TEST_KEY not in log
