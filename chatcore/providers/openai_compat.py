"""Any OpenAI-compatible backend (OpenAI, DeepSeek, Ollama, vLLM, llama.cpp server…) through the `openai` SDK."""

import threading

from ..errors import from_openai_exception
from .base import Finish, Provider


class OpenAICompatibleProvider(Provider):
    """Streams chat completions from a configured base URL with a server-side key."""

    name = "openai-compatible"
    supports_usage = True

    def __init__(self, api_key, base_url, timeout):
        self._api_key = api_key
        self._base_url = base_url or None
        self._timeout = timeout
        self._client = None
        self._lock = threading.Lock()

    def _get_client(self):
        """Build the SDK client once per process, on first use (it reads proxy env vars then)."""
        with self._lock:
            if self._client is None:
                import httpx2
                import openai

                self._client = openai.OpenAI(
                    # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
                    api_key=self._api_key or "no-key",
                    base_url=self._base_url,
                    # Read timeout bounds the wait for each chunk, so long answers are fine.
                    timeout=httpx2.Timeout(self._timeout, connect=min(10.0, self._timeout)),
                    # The user has a retry button; silent SDK retries would only delay the error.
                    max_retries=0,
                )
            return self._client

    def stream(self, request):
        """Yield answer deltas, then a Finish whose reason is None if the stream was cut early."""
        kwargs = {"model": request.model, "messages": request.messages, "stream": True}
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.include_usage:
            kwargs["stream_options"] = {"include_usage": True}
        try:
            upstream = self._get_client().chat.completions.create(**kwargs)
        except Exception as exc:  # the SDK raises many types; all become a safe ChatError
            raise from_openai_exception(exc) from exc
        reason, usage = None, None
        try:
            for chunk in upstream:
                if getattr(chunk, "usage", None):
                    usage = chunk.usage.model_dump()
                for choice in chunk.choices or ():
                    if choice.index not in (0, None):
                        continue
                    content = choice.delta.content if choice.delta else None
                    if content:
                        yield content
                    if choice.finish_reason:
                        reason = choice.finish_reason
        except GeneratorExit:
            raise
        except Exception as exc:
            raise from_openai_exception(exc) from exc
        finally:
            # Closing the HTTP response ends generation (and billing) on the backend when the user stops.
            upstream.close()
        # The SDK ends a stream cut before [DONE] like a normal one: a missing finish_reason tells us.
        yield Finish(reason, usage)
