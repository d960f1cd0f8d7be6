"""Unit tests of settings: defaults, backend choice, and errors that name the variable."""

import pytest

from chat_app import apply_local_proxy
from config import DEFAULT_EMBEDDED_MODEL, DEFAULT_PROXY_URL, ConfigError, load_settings


def test_no_key_means_the_embedded_model():
    settings = load_settings({}, dotenv_path=None)
    assert settings.uses_embedded_model
    assert settings.models == (DEFAULT_EMBEDDED_MODEL,) and settings.default_model == DEFAULT_EMBEDDED_MODEL
    assert (settings.host, settings.port, settings.proxy_url) == ("127.0.0.1", 8050, DEFAULT_PROXY_URL)


def test_key_or_base_url_selects_the_upstream():
    assert not load_settings({"OPENAI_API_KEY": "sk-x"}, dotenv_path=None).uses_embedded_model
    local = load_settings({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/", "MODELS": "qwen2.5, llama3"},
                          dotenv_path=None)
    assert local.openai_base_url == "http://127.0.0.1:11434/v1"
    assert local.models == ("qwen2.5", "llama3") and local.default_model == "qwen2.5"


@pytest.mark.parametrize("env,variable", [
    ({"PORT": "eighty"}, "PORT"),
    ({"MAX_INPUT_CHARS": "0"}, "MAX_INPUT_CHARS"),
    ({"REQUEST_TIMEOUT": "-1"}, "REQUEST_TIMEOUT"),
    ({"OPENAI_BASE_URL": "api.openai.com"}, "OPENAI_BASE_URL"),
    ({"MODELS": "a,b", "DEFAULT_MODEL": "c", "OPENAI_API_KEY": "k"}, "DEFAULT_MODEL"),
    ({"RATE_LIMIT": "lots"}, "RATE_LIMIT"),
    ({"RATE_LIMIT_STORAGE_URI": "mysql://x"}, "RATE_LIMIT_STORAGE_URI"),
    ({"EMBEDDED_MODEL_PATH": "/nonexistent.gguf"}, "EMBEDDED_MODEL_PATH"),
    ({"EMBEDDED_MODEL": "gpt-5-tiny"}, "EMBEDDED_MODEL"),
    ({"MAX_ANSWER_TOKENS": "4096", "CONTEXT_TOKENS": "2048"}, "MAX_ANSWER_TOKENS"),
])
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        load_settings(env, dotenv_path=None)


def test_dotenv_file_fills_missing_variables(tmp_path, monkeypatch):
    monkeypatch.delenv("MAX_INPUT_CHARS", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("MAX_INPUT_CHARS=1234\n")
    assert load_settings(dotenv_path=str(dotenv)).max_input_chars == 1234
    monkeypatch.delenv("MAX_INPUT_CHARS")


def test_local_switch_sets_both_proxy_variables():
    env = {}
    assert apply_local_proxy(["chat_app.py", "local"], env, "http://127.0.0.1:10809")
    assert env == {"HTTP_PROXY": "http://127.0.0.1:10809", "HTTPS_PROXY": "http://127.0.0.1:10809"}
    untouched = {}
    assert not apply_local_proxy(["chat_app.py"], untouched, "http://127.0.0.1:10809") and untouched == {}


def test_the_smaller_embedded_model_or_any_gguf_can_be_chosen(tmp_path):
    small = load_settings({"EMBEDDED_MODEL": "qwen2.5-coder-0.5b"}, dotenv_path=None)
    assert small.embedded_model == "qwen2.5-coder-0.5b" and small.models == ("qwen2.5-coder-0.5b",)
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF")
    assert load_settings({"EMBEDDED_MODEL_PATH": str(own)}, dotenv_path=None).models == ("local-gguf",)
