"""Model backends behind one interface; `build_provider` picks one from the settings."""

from .base import Finish, Provider
from .embedded import EmbeddedProvider
from .openai_compat import OpenAICompatibleProvider

__all__ = ["Finish", "Provider", "EmbeddedProvider", "OpenAICompatibleProvider", "build_provider"]


def build_provider(settings, embedded_model_path=""):
    """The upstream provider when a key or base URL is set, else the embedded model (nothing loads here)."""
    if settings.uses_embedded_model:
        return EmbeddedProvider(embedded_model_path, settings.context_tokens, settings.max_answer_tokens)
    return OpenAICompatibleProvider(settings.openai_api_key, settings.openai_base_url, settings.request_timeout)
