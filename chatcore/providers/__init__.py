"""Model backends behind one interface; `build_providers` builds them all from the settings."""

from .base import Finish, Provider, Reasoning
from .embedded import EmbeddedProvider
from .openai_compat import OpenAICompatibleProvider
from .registry import ProviderEntry, ProviderSet

__all__ = ["Finish", "Provider", "Reasoning", "EmbeddedProvider", "OpenAICompatibleProvider", "ProviderSet",
           "build_providers"]


def build_providers(settings, embedded_model_path=""):
    """Every upstream of the settings, or the embedded model when there is none (nothing loads here)."""
    if settings.uses_embedded_model:
        provider = EmbeddedProvider(embedded_model_path, settings.context_tokens, settings.max_answer_tokens)
        return ProviderSet([ProviderEntry(provider.name, provider, settings.models)], settings.default_model)
    entries = [ProviderEntry(p.name, OpenAICompatibleProvider(p.api_key, p.base_url, settings.request_timeout, p.name),
                             p.models) for p in settings.providers]
    return ProviderSet(entries, settings.default_model, prefixed=bool(settings.providers_file))
