"""The app against a real peer: llama.cpp's own OpenAI-compatible HTTP server (through xllamacpp) serving Qwen."""

import json
import subprocess
import sys

import pytest
import requests

from chatcore.model_file import prepare
from config import DEFAULT_EMBEDDED_MODEL, EMBEDDED_MODELS
from testkit.gunicorn_app import MODEL_DATA_DIR
from testkit.upstream import free_port
from testkit.waiting import wait_until

# xllamacpp.Server starts llama.cpp's HTTP server (the one `llama-server` runs) and loads the model; this
# process only keeps it alive. Arguments: model path, port.
SERVE = """
import sys, threading, xllamacpp
params = xllamacpp.CommonParams()
params.model.path, params.port = sys.argv[1], int(sys.argv[2])
params.hostnames = ["127.0.0.1"]
params.n_ctx = 2048
params.verbosity = -1
server = xllamacpp.Server(params)
print("listening on", server.listening_address, flush=True)
threading.Event().wait()
"""


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """Start llama.cpp's server on loopback with the shipped model and wait until it lists its model."""
    port = free_port()
    model_path = prepare(EMBEDDED_MODELS[DEFAULT_EMBEDDED_MODEL], MODEL_DATA_DIR)
    # Errors only, but to a file, not a pipe nobody reads, which could fill and block it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(model_path), str(port)],
                               stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"

    def ready():
        if process.poll() is not None:
            raise RuntimeError(f"llama.cpp's server exited: {log_path.read_text(errors='replace')[-2000:]}")
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok

    try:
        wait_until(ready, 300, "llama.cpp's server to load its model")
    except TimeoutError:
        process.kill()
        raise
    yield url
    process.terminate()
    process.wait(timeout=30)
    log_file.close()


def test_app_streams_from_llama_cpp_server(llama_server, serve):
    # A base URL with no key is a local server (Ollama, llama.cpp…): the app must not require a key.
    server = serve({"OPENAI_BASE_URL": llama_server, "MODELS": "qwen", "MAX_ANSWER_TOKENS": "40"})
    response = requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=300, json={
        "model": "qwen", "max_tokens": 32, "stream": True, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]})
    assert response.status_code == 200
    events = [line[6:] for line in response.iter_lines() if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "Paris" in text
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"


def test_multi_turn_history_and_the_openai_sdk_work_against_the_real_peer(llama_server, serve):
    import openai

    server = serve({"OPENAI_BASE_URL": llama_server, "MODELS": "qwen"})
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(model="qwen", max_tokens=24, temperature=0, messages=[
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"}])
    assert "Ada" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
