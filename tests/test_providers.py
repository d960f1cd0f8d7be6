"""Several providers at once: the providers file, one allowlist of provider/model ids, per-provider health."""

import logging
import socket
import threading
from pathlib import Path

import pytest
import requests

from chatcore.errors import ChatError
from chatcore.messages import ChatRequest
from chatcore.providers import openai_compat
from chatcore.providers.base import Reasoning
from config import ConfigError, load_settings
from testkit.api_client import answer_text, read_events
from testkit.app import TEST_KEY
from testkit.providers import OTHER_KEY, providers_file, two_providers
from testkit.upstream import Script, ScriptedUpstream, free_port
from testkit.waiting import wait_until

def ask(server, model, stream=True):
    """One question to the app's /v1 for `model`."""
    return requests.post(f"{server.url}/v1/chat/completions", stream=stream, timeout=30,
                         json={"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream})


def health(server):
    """/healthz as (status code, {provider name: status})."""
    response = requests.get(f"{server.url}/healthz", timeout=5)
    return response.status_code, {p["name"]: p["status"] for p in response.json()["providers"]}


def test_a_key_written_in_the_providers_file_is_refused(tmp_path):
    env = providers_file(tmp_path, '[[providers]]\nname = "a"\nbase_url = "http://x/v1"\napi_key = "sk-live-123"\n'
                                   'models = ["m"]\n')
    with pytest.raises(ConfigError, match=r"providers.toml line 4: 'api_key': never put a key in this file") as error:
        load_settings(env, dotenv_path=None)
    assert "sk-live-123" not in str(error.value)


def test_a_key_given_as_the_variable_name_is_refused(tmp_path):
    env = providers_file(tmp_path, '[[providers]]\nname = "a"\nbase_url = "http://x/v1"\n'
                                   'api_key_env = "sk-live-123"\nmodels = ["m"]\n')
    with pytest.raises(ConfigError, match=r"line 4: api_key_env must be the NAME of an environment variable") as error:
        load_settings(env, dotenv_path=None)
    assert "sk-live-123" not in str(error.value)


def test_a_bad_toml_file_is_named_with_its_line(tmp_path):
    env = providers_file(tmp_path, '[[providers]]\nname = "a"\nbase_url = \n')
    with pytest.raises(ConfigError, match=r"PROVIDERS_FILE .*providers.toml: .*line 3"):
        load_settings(env, dotenv_path=None)


@pytest.mark.parametrize("text,problem", [
    ('[[providers]]\nname = "a"\nbase_url = "http://x/v1"\nmodels = []\n', r"line 4: models must be a list"),
    ('[[providers]]\nname = "a"\nbase_url = "x"\nmodels = "auto"\n', r"line 3: base_url must start with http"),
    ('[[providers]]\nname = "a"\nbase_url = "http://x"\napi_key_env = "UNSET_KEY"\nmodels = "auto"\n',
     r"line 4: the environment variable UNSET_KEY is not set"),
    ('[[providers]]\nname = "a"\nbase_url = "http://x"\nmodels = "auto"\n'
     '[[providers]]\nname = "a"\nbase_url = "http://y"\nmodels = "auto"\n', r"line 6: the name 'a' is used twice"),
    ('[[providers]]\nname = "a"\nbase_url = "http://x"\nmodel = "m"\n', r"line 4: unknown setting 'model'"),
])
def test_each_mistake_in_the_providers_file_is_named_with_its_line(tmp_path, text, problem):
    with pytest.raises(ConfigError, match=problem):
        load_settings(providers_file(tmp_path, text), dotenv_path=None)


def test_the_providers_file_and_the_single_provider_settings_are_not_mixed(tmp_path):
    env = providers_file(tmp_path, '[[providers]]\nname = "a"\nbase_url = "http://x"\nmodels = "auto"\n')
    with pytest.raises(ConfigError, match="PROVIDERS_FILE replaces OPENAI_BASE_URL and MODELS"):
        load_settings({**env, "MODELS": "m"}, dotenv_path=None)


def test_the_single_provider_settings_are_a_one_provider_list():
    settings = load_settings({"OPENAI_API_KEY": "k", "MODELS": "a,b"}, dotenv_path=None)
    assert [(p.name, p.models) for p in settings.providers] == [("openai-compatible", ("a", "b"))]


def test_models_of_every_provider_are_listed_with_their_owner(tmp_path, serve):
    with ScriptedUpstream() as alpha, ScriptedUpstream() as beta:
        beta.script = Script(models=("shared", "thinker"))
        server = serve(two_providers(tmp_path, alpha.url, beta.url))
        listed = lambda: [(m["id"], m["owned_by"]) for m in  # noqa: E731
                          requests.get(f"{server.url}/v1/models", timeout=5).json()["data"]]
        wait_until(lambda: len(listed()) == 4, 10, "beta's auto model list")
        assert listed() == [("alpha/scripted", "alpha"), ("alpha/shared", "alpha"),
                            ("beta/shared", "beta"), ("beta/thinker", "beta")]


def test_each_model_id_reaches_its_own_provider_with_its_own_key(tmp_path, serve):
    with ScriptedUpstream() as alpha, ScriptedUpstream() as beta:
        beta.script = Script(models=("shared",), reply="from beta")
        alpha.script = Script(reply="from alpha")
        server = serve(two_providers(tmp_path, alpha.url, beta.url))
        wait_until(lambda: ask(server, "beta/shared", stream=False).ok, 10, "beta's model")
        assert answer_text(read_events(ask(server, "alpha/shared"))) == "from alpha"
        assert answer_text(read_events(ask(server, "beta/shared"))) == "from beta"
        assert [r["body"]["model"] for r in alpha.requests] == ["shared"]
        assert alpha.requests[0]["headers"]["authorization"] == f"Bearer {TEST_KEY}"
        assert beta.requests[-1]["headers"]["authorization"] == f"Bearer {OTHER_KEY}"


def test_a_model_no_provider_offers_is_a_404(tmp_path, upstream, serve):
    server = serve(two_providers(tmp_path, upstream.url, upstream.url, '["m"]'))
    response = ask(server, "gamma/scripted")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert upstream.requests == []


def test_a_provider_that_is_down_leaves_the_other_serving_and_shows_in_healthz(tmp_path, upstream, serve, caplog):
    caplog.set_level(logging.INFO)
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = serve(two_providers(tmp_path, upstream.url, down))
    assert answer_text(read_events(ask(server, "alpha/scripted"))).startswith("Answer to: hi")
    wait_until(lambda: health(server)[1]["beta"] == "unavailable", 10, "beta marked unavailable")
    assert health(server) == (200, {"alpha": "ok", "beta": "unavailable"})
    texts = [requests.get(f"{server.url}{path}", timeout=5).text for path in ("/healthz", "/v1/models")]
    for text in texts + [caplog.text]:
        for secret in (upstream.url, down, TEST_KEY, OTHER_KEY):
            assert secret not in text


def test_a_backend_that_never_answers_does_not_hold_up_start_up(tmp_path, upstream, serve):
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = two_providers(tmp_path, upstream.url, f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        server = serve({**env, "REQUEST_TIMEOUT": "60"})  # beta's list read waits far longer than this test
        assert health(server) == (200, {"alpha": "ok", "beta": "starting"})
        assert answer_text(read_events(ask(server, "alpha/scripted"))).startswith("Answer to: hi")


def test_healthz_is_503_when_no_provider_can_serve(tmp_path, serve):
    down = f"http://127.0.0.1:{free_port()}/v1"
    server = serve(providers_file(tmp_path, f'[[providers]]\nname = "beta"\nbase_url = "{down}"\nmodels = "auto"\n'))
    wait_until(lambda: health(server)[1]["beta"] == "unavailable", 10, "beta marked unavailable")
    assert health(server)[0] == 503


def test_under_gunicorn_gevent_workers_auto_lists_load_while_a_silent_backend_hangs(tmp_path, upstream):
    from testkit.gunicorn_app import GunicornApp

    upstream.script = Script(models=("scripted", "second"))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = two_providers(tmp_path, upstream.url, f"http://127.0.0.1:{silent.getsockname()[1]}/v1",
                            alpha_models='"auto"')
        # One worker: each worker reads the lists itself, and a second one may not have read them yet.
        with GunicornApp({**env, "REQUEST_TIMEOUT": "60"}, extra_args=["--workers", "1"]) as app:
            listed = lambda: requests.get(f"{app.url}/v1/models", timeout=5).json()["data"]  # noqa: E731
            wait_until(lambda: [m["id"] for m in listed()] == ["alpha/scripted", "alpha/second"], 20, "alpha's list")
            assert answer_text(read_events(ask(app, "alpha/second"))).startswith("Answer to: hi")
            assert health(app) == (200, {"alpha": "ok", "beta": "starting"})
            assert upstream.url not in app.log() and TEST_KEY not in app.log() and OTHER_KEY not in app.log()


def test_the_example_providers_file_in_the_repo_is_valid():
    example = Path(__file__).parent.parent / "providers.example.toml"
    settings = load_settings({"PROVIDERS_FILE": str(example), "DEEPSEEK_API_KEY": "k", "OPENAI_API_KEY": "k"},
                             dotenv_path=None)
    assert [(p.name, p.models) for p in settings.providers] == [
        ("deepseek", ("deepseek-chat", "deepseek-reasoner")), ("openai", ("gpt-4o-mini", "gpt-4o")), ("ollama", None)]


class FakeBackend:
    """A provider whose /models answers the next scripted list, or fails when the list is an exception."""

    def __init__(self, *answers):
        """Each answer is a list of model names or an exception to raise."""
        self.answers = list(answers)

    def list_models(self):
        """The next scripted answer of /models."""
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def health(self):
        """Always installed and configured."""
        return True, "ok"


def read_list(entry, monkeypatch, now):
    """Let the entry's "auto" list be read at monotonic time `now`, and wait for the read to end."""
    from chatcore.providers import registry

    monkeypatch.setattr(registry, "monotonic", lambda: now)
    entry.refresh_if_due()
    wait_until(lambda: not entry._reading, 10, "the model list read")


def test_an_auto_list_is_cached_and_a_failed_refresh_keeps_the_last_one(monkeypatch):
    from chatcore.providers.registry import REFRESH_SECONDS, ProviderEntry

    entry = ProviderEntry("beta", FakeBackend(["m1"], ConnectionError("down")))
    read_list(entry, monkeypatch, 1000.0)
    assert (entry.models, entry.state) == (("m1",), "ok")
    read_list(entry, monkeypatch, 1000.0 + REFRESH_SECONDS / 2)  # not due: no read (a read would fail)
    assert (entry.models, entry.state) == (("m1",), "ok")
    read_list(entry, monkeypatch, 1000.0 + REFRESH_SECONDS)
    assert (entry.models, entry.state) == (("m1",), "unavailable")


def test_open_streams_spread_over_connection_pools_and_each_stream_is_counted_out(upstream, monkeypatch):
    """A worker with many answers open spreads them over several clients (a pool's bookkeeping walks all its
    connections per request); a stream that ends, is closed mid-answer (Stop) or fails frees its place."""
    monkeypatch.setattr(openai_compat, "STREAMS_PER_CLIENT", 2)
    gate = threading.Event()
    upstream.script = Script(reasoning="thinking", answer_gate=gate)  # each stream waits before its answer
    provider = openai_compat.OpenAICompatibleProvider("", upstream.url, 30)
    request = ChatRequest(model="scripted", messages=[{"role": "user", "content": "hi"}], stream=True)
    streams = [provider.stream(request) for _ in range(5)]
    for stream in streams:
        assert isinstance(next(stream), Reasoning)  # its request is open
    assert [count for _, count in provider._clients] == [2, 2, 1]
    assert len({id(client._client) for client, _ in provider._clients}) == 3  # three pools
    gate.set()
    assert "".join(item for item in streams[0] if type(item) is str) == "Answer to: hi (saw 0 earlier messages)"
    streams[1].close()  # Stop mid-answer
    upstream.script = Script(status=500)
    with pytest.raises(ChatError):
        next(provider.stream(request))
    assert [count for _, count in provider._clients] == [0, 2, 1]
    for stream in streams[2:]:
        stream.close()
    assert [count for _, count in provider._clients] == [0, 0, 0]
