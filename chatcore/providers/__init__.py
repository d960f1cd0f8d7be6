"""Model backends behind one interface; `build_provider` picks one from the settings."""

from functools import partial
from pathlib import Path

from ..model_file import prepare
from .base import Finish, Provider
from .embedded import EmbeddedProvider
from .openai_compat import OpenAICompatibleProvider

__all__ = ["Finish", "Provider", "EmbeddedProvider", "OpenAICompatibleProvider", "build_provider", "embedded_model_locator"]


def embedded_model_locator(settings):
    """A function returning the embedded GGUF's checked path: EMBEDDED_MODEL_PATH as given, else the shipped model."""
    from config import EMBEDDED_MODELS

    if settings.embedded_model_path:
        return partial(Path, settings.embedded_model_path)  # the user's own file: no known hash to check
    return partial(prepare, EMBEDDED_MODELS[settings.embedded_model], settings.data_dir)


def build_provider(settings):
    """The upstream provider when a key or base URL is set, else the embedded model (which starts loading now)."""
    if settings.uses_embedded_model:
        from config import EMBEDDED_SAMPLING

        provider = EmbeddedProvider(embedded_model_locator(settings), settings.context_tokens,
                                    settings.max_answer_tokens, EMBEDDED_SAMPLING)
        provider.start()
        return provider
    return OpenAICompatibleProvider(settings.openai_api_key, settings.openai_base_url, settings.request_timeout)
