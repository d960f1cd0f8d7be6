"""The app against a real peer: llama-cpp-python's own OpenAI-compatible server serving SmolLM2."""

import json
import subprocess
import sys

import pytest
import requests

from config import find_embedded_model
from testkit.upstream import free_port
from testkit.waiting import wait_until


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """Start `python -m llama_cpp.server` on loopback and wait until it lists its model."""
    port = free_port()
    # Its log is long (model metadata): a file, not a pipe nobody reads, which would fill and block it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", find_embedded_model(), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"

    def listing_models():
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log_path.read_text(errors='replace')[-2000:]}")
        return requests.get(f"{url}/models", timeout=1).ok

    try:
        wait_until(listing_models, 60, "llama_cpp.server to list its model")
    except TimeoutError:
        process.kill()
        raise
    yield url
    process.terminate()
    process.wait(timeout=10)
    log_file.close()


def test_app_streams_from_llama_cpp_server(llama_server, serve):
    # A base URL with no key is a local server (Ollama, llama.cpp…): the app must not require a key.
    server = serve({"OPENAI_BASE_URL": llama_server, "MODELS": "smollm2", "MAX_ANSWER_TOKENS": "40"})
    response = requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=120, json={
        "model": "smollm2", "max_tokens": 32, "stream": True,
        "messages": [{"role": "user", "content": "Name one colour."}]})
    assert response.status_code == 200
    events = [line[6:] for line in response.iter_lines() if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip()
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_multi_turn_history_and_the_openai_sdk_work_against_the_real_peer(llama_server, serve):
    import openai

    server = serve({"OPENAI_BASE_URL": llama_server, "MODELS": "smollm2"})
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(model="smollm2", max_tokens=24, temperature=0, messages=[
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"}])
    assert completion.choices[0].message.content.strip()
    assert completion.choices[0].finish_reason in ("stop", "length")
