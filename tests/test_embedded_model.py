"""The embedded model for real: no key, Qwen2.5-Coder through xllamacpp, via the app's own route and page.

Nothing here skips: without the model's wheels (pip install -r requirements-embedded.txt) these tests fail.
"""

import hashlib
import json
import os
import re
import socket
import stat
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from selenium.webdriver.support.ui import WebDriverWait

from chatcore.errors import ChatError
from chatcore.messages import ChatRequest
from chatcore.model_file import assembled_path
from chatcore.providers import Finish, build_embedded
from components import ids
from config import DEFAULT_EMBEDDED_MODEL, EMBEDDED_MODELS, EmbeddedModel, load_settings
from testkit.app import build_app
from testkit.browser import committed_history, type_and_send
from testkit.gunicorn_app import MODEL_DATA_DIR, GunicornApp
from testkit.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = MODEL_DATA_DIR
# No key, no base URL: the embedded model answers; short answers keep this quick.
NO_UPSTREAM = {"MAX_ANSWER_TOKENS": "96", "DATA_DIR": DATA_DIR}


def ask(url, question, **body):
    """One streamed question to the app's OpenAI route: (content chunks, finish_reason, usage)."""
    response = requests.post(f"{url}/v1/chat/completions", stream=True, timeout=300, json={
        "messages": [{"role": "user", "content": question}], "stream": True, "temperature": 0,
        "stream_options": {"include_usage": True}, **body})
    assert response.status_code == 200, response.text
    events = [line[6:] for line in response.iter_lines() if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    texts = [c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")]
    reason = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")][-1]
    return [t for t in texts if t], reason, chunks[-1]["usage"]


@pytest.fixture(scope="module")
def provider():
    """The shipped model, loaded once for this module's provider-level tests."""
    loaded = build_embedded(load_settings(NO_UPSTREAM, dotenv_path=None))
    loaded.start()
    wait_until(lambda: loaded.load_seconds or not loaded.health()[0], 300, "the model to load")
    assert loaded.health() == (True, "ok")
    return loaded


def question(text, **kwargs):
    """A one-message request at temperature 0."""
    return ChatRequest(model="m", messages=[{"role": "user", "content": text}], temperature=0, **kwargs)


def test_the_model_answers_chinese_and_english_questions_through_the_app(serve):
    server = serve(NO_UPSTREAM)
    health = requests.get(f"{server.url}/healthz", timeout=5).json()
    assert (health["status"], health["backend"], health["store"]) == ("ok", "embedded", "ok")
    chunks, reason, usage = ask(server.url, "用一句话介绍一下长城。")
    answer = "".join(chunks)
    assert "长城" in answer and "中国" in answer and reason == "stop"
    assert len(chunks) > 1  # streamed, not one block at the end
    chunks, reason, usage = ask(server.url, "What is the capital of France? Answer in one sentence.")
    assert "Paris" in "".join(chunks) and reason == "stop"
    assert "estimated" not in usage and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_translation_and_a_python_function_at_the_pages_default_settings(provider):
    # The page sends temperature 0.7 and no max_tokens: the provider's sampling defaults do the rest.
    translation = "".join(x for x in provider.stream(ChatRequest(model="m", temperature=0.7, messages=[
        {"role": "user", "content": "把这句话翻译成英文：我今天很高兴。"}])) if isinstance(x, str))
    # At temperature 0.7 the wording varies ("I'm glad today."): any right translation passes.
    words = translation.lower()
    assert any(word in words for word in ("happy", "glad", "joy", "cheerful")) and "today" in words
    items = list(provider.stream(question("Write a Python function add(a, b) that returns the sum of a and b. "
                                          "Reply with only the code.")))
    code = re.search(r"```(?:python)?\n(.*?)```", "".join(x for x in items if isinstance(x, str)), re.S)
    namespace = {}
    exec(code.group(1), namespace)  # the model's own function, run for real
    assert namespace["add"](2, 3) == 5 and items[-1].reason == "stop"


def test_usage_counts_are_the_models_own(provider):
    before = provider.counters()
    items = list(provider.stream(question("Write a long essay about the sea.", max_tokens=7)))
    finish = items[-1]
    assert isinstance(finish, Finish) and finish.reason == "length"
    assert finish.usage["completion_tokens"] == 7 == provider.counters()["tokens_predicted_total"] - before[
        "tokens_predicted_total"]
    # The prompt as the model's chat template rendered it: Qwen's default system prompt comes first.
    assert finish.usage["prompt_tokens"] > 20 and "estimated" not in finish.usage


def test_closing_an_answer_stops_generation_at_the_next_token(provider):
    before = provider.counters()["n_decode_total"]
    first = provider.stream(question("Count from 1 to 500, one number per line.", max_tokens=600))
    assert all(isinstance(next(first), str) for _ in range(3))
    first.close()  # the reader went away after three tokens
    second = list(provider.stream(question("Hi", max_tokens=4)))
    assert isinstance(second[-1], Finish) and all(isinstance(x, str) for x in second[:-1])
    # Every generated token is one decode: 3 read + the one in flight + 4 for "Hi", not 600.
    assert provider.counters()["n_decode_total"] - before < 20


def test_only_the_app_can_reach_the_model(provider):
    # xllamacpp's built-in HTTP server: no TCP port, a Unix socket in a private directory, and a key we never see.
    me = psutil.Process()
    assert not [c for c in me.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    sockets = [c.laddr for c in me.net_connections("unix") if c.laddr.endswith("llama.sock")]
    assert sockets and all(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700 for path in sockets)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(sockets[0])
        client.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: model\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        assert client.recv(100).split(b"\r\n")[0] == b"HTTP/1.1 401 Unauthorized"


def test_the_model_file_is_the_pinned_one_and_carries_its_chat_template(provider):
    model = EMBEDDED_MODELS[DEFAULT_EMBEDDED_MODEL]
    path = assembled_path(model, DATA_DIR)
    assert path.stat().st_size == model.size
    header = path.open("rb").read(8 << 20)  # GGUF metadata comes first
    start = header.index(b"tokenizer.chat_template")
    assert b"<|im_start|>assistant" in header[start:start + 4000]  # Qwen's ChatML, applied by llama.cpp


def test_each_requirements_file_pins_every_slice_of_its_model_by_hash():
    for model in EMBEDDED_MODELS.values():
        lines = [line for line in (ROOT / model.requirements).read_text().splitlines()
                 if line and not line.startswith("#")]
        assert lines[0] == "--require-hashes"
        names = [re.match(r"([\w-]+)==[\d.]+ --hash=sha256:[0-9a-f]{64}$", line).group(1) for line in lines[1:]]
        assert names == [f"{model.package_prefix.replace('_', '-')}{n}" for n in range(1, model.parts + 1)]


def test_a_corrupted_or_truncated_model_file_is_refused_with_a_clear_message(tmp_path, monkeypatch, serve):
    good = b"GGUF" + bytes(4092)
    fake = EmbeddedModel(DEFAULT_EMBEDDED_MODEL, "fake.gguf", "no_such_package_part", 1,
                         "requirements-embedded.txt", len(good), hashlib.sha256(good).hexdigest())
    monkeypatch.setitem(EMBEDDED_MODELS, DEFAULT_EMBEDDED_MODEL, fake)
    for damaged, words in ((good[:-1] + b"x", "corrupted"), (good[:100], "truncated")):
        data_dir = tmp_path / words
        (data_dir / "models").mkdir(parents=True)
        (data_dir / "models" / "fake.gguf").write_bytes(damaged)
        server = serve({"DATA_DIR": str(data_dir)})
        health = wait_until(lambda: (r := requests.get(f"{server.url}/healthz", timeout=5)).status_code == 503
                            and r.json(), 60, "/healthz to refuse the file")
        assert health["status"] == "unavailable" and words in health["providers"][0]["reason"]
        response = requests.post(f"{server.url}/v1/chat/completions", timeout=30,
                                 json={"messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 503 and words in response.json()["error"]["message"]
        assert response.json()["error"]["code"] == "embedded_model_unavailable"


def test_a_model_that_is_not_installed_is_a_clear_503(tmp_path, monkeypatch):
    missing = EmbeddedModel(DEFAULT_EMBEDDED_MODEL, "missing.gguf", "no_such_package_part", 2,
                            "requirements-embedded.txt", 1, "0" * 64)
    monkeypatch.setitem(EMBEDDED_MODELS, DEFAULT_EMBEDDED_MODEL, missing)
    provider = build_embedded(load_settings({"DATA_DIR": str(tmp_path)}, dotenv_path=None))
    with pytest.raises(ChatError) as info:
        list(provider.stream(question("hi")))
    assert (info.value.status, info.value.code) == (503, "embedded_model_unavailable")
    assert "pip install -r requirements-embedded.txt" in info.value.message


def test_any_gguf_given_by_path_is_loaded_as_it_is(provider, tmp_path):
    # EMBEDDED_MODEL_PATH, e.g. a model Ollama downloaded: no wheels, no join, no known hash; its own template.
    own = tmp_path / "own.gguf"
    own.symlink_to(assembled_path(EMBEDDED_MODELS[DEFAULT_EMBEDDED_MODEL], DATA_DIR))
    settings = load_settings({"EMBEDDED_MODEL_PATH": str(own), "DATA_DIR": str(tmp_path / "empty")}, dotenv_path=None)
    assert settings.models == ("local-gguf",)
    items = list(build_embedded(settings).stream(question("What is the capital of France? Answer in one sentence.")))
    assert "Paris" in "".join(x for x in items if isinstance(x, str)) and not (tmp_path / "empty").exists()


def test_the_model_answers_in_the_page(dash_duo):
    dash_duo.start_server(build_app(NO_UPSTREAM))
    dash_duo.wait_for_element(f"#{ids.INPUT}")
    type_and_send(dash_duo, "你好")
    WebDriverWait(dash_duo.driver, 300).until(
        lambda d: d.execute_script("const a = document.querySelector(\".chat-message[data-role='assistant']\");"
                                   " return a && a.dataset.status === 'done'"), "no embedded answer")
    answer = committed_history(dash_duo)[1]["content"]
    assert answer.strip()


def test_under_gunicorn_the_model_generates_on_its_own_thread_while_the_worker_keeps_serving():
    # One gevent worker: if generation ran on the worker's event loop, /healthz (and every other stream)
    # would wait until the whole answer was done, and the answer would arrive in one burst at the end.
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "MAX_ANSWER_TOKENS": "120", "WEB_CONCURRENCY": "1",
           "DATA_DIR": DATA_DIR}
    with GunicornApp(env) as app:
        arrivals, health = [], {}

        def read_answer():
            with requests.post(f"{app.url}/v1/chat/completions", stream=True, timeout=300, json={
                    "messages": [{"role": "user", "content": "Write a long story about a dragon who learns to fly."}],
                    "stream": True, "temperature": 0}) as response:
                for line in response.iter_lines():
                    if line.startswith(b"data: {") and b'"content":"' in line:
                        arrivals.append(time.monotonic())

        reader = threading.Thread(target=read_answer)
        reader.start()
        wait_until(lambda: arrivals, 300, "the first token")
        assert requests.get(f"{app.url}/healthz", timeout=30).json()["backend"] == "embedded"
        health["answered"] = time.monotonic()
        reader.join(300)
        assert sum(1 for t in arrivals if t > health["answered"]) >= 10  # the answer kept streaming after it
