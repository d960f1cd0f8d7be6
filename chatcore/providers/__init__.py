"""Model backends behind one interface; `build_providers` builds them all from the settings."""

from functools import partial
from pathlib import Path

from ..model_file import prepare
from .base import Finish, Provider, Reasoning
from .embedded import EmbeddedProvider
from .openai_compat import OpenAICompatibleProvider
from .registry import ProviderEntry, ProviderSet

__all__ = ["Finish", "Provider", "Reasoning", "EmbeddedProvider", "OpenAICompatibleProvider", "ProviderSet",
           "build_embedded", "build_providers", "embedded_model_locator"]


def embedded_model_locator(settings):
    """A function returning the embedded GGUF's checked path: EMBEDDED_MODEL_PATH as given, else the shipped model."""
    from config import EMBEDDED_MODELS

    if settings.embedded_model_path:
        return partial(Path, settings.embedded_model_path)  # the user's own file: no known hash to check
    return partial(prepare, EMBEDDED_MODELS[settings.embedded_model], settings.data_dir)


def build_embedded(settings):
    """The embedded model's provider; it loads when started (`start()`, or the first question)."""
    from config import EMBEDDED_SAMPLING

    return EmbeddedProvider(embedded_model_locator(settings), settings.context_tokens, settings.max_answer_tokens,
                            EMBEDDED_SAMPLING)


def build_providers(settings):
    """Every upstream of the settings, or the embedded model when there is none; nothing starts until `start()`."""
    if settings.uses_embedded_model:
        provider = build_embedded(settings)
        return ProviderSet([ProviderEntry(provider.name, provider, settings.models)], settings.default_model)
    entries = [ProviderEntry(p.name, OpenAICompatibleProvider(p.api_key, p.base_url, settings.request_timeout, p.name),
                             p.models, p.vision) for p in settings.providers]
    return ProviderSet(entries, settings.default_model, prefixed=bool(settings.providers_file))
