"""The embedded model (llama.cpp through xllamacpp), so the app chats with no key at all."""

import atexit
import logging
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time

from ..errors import ChatError
from ..model_file import ModelFileError
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


def _server_params(path, context_tokens, threads, socket_path):
    """xllamacpp settings: the model, and its built-in HTTP server shut away from everything but this process.

    xllamacpp always starts llama.cpp's HTTP server next to the in-process API the app uses. Bound to a Unix
    socket in a fresh 0700 directory it opens no TCP port at all, only this user can reach the socket, and a
    random API key that never leaves the process guards every route but /health and /v1/models.
    """
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = context_tokens
    params.n_parallel = 1  # one generation thread asks one question at a time
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = [socket_path]
    params.api_keys = [secrets.token_urlsafe(32)]
    params.ui = False
    params.endpoint_slots = False
    params.endpoint_props = False
    params.endpoint_metrics = True  # counters only (no text); the stop test reads how many tokens were decoded
    params.cache_ram_mib = 0  # no extra prompt cache beyond the slot's own (it could grow to gigabytes)
    params.reasoning_format = xllamacpp.common_reasoning_format.COMMON_REASONING_FORMAT_NONE  # all text is the answer
    params.verbosity = -1  # errors only: llama.cpp's info lines would otherwise fill the log
    return params


class EmbeddedProvider(Provider):
    """A GGUF model loaded once per process, when the app starts, and run by one dedicated generation thread.

    One thread on purpose: llama.cpp's thread team belongs to the thread that calls it, and the model answers
    one question at a time anyway (later questions wait their turn). It loads at start-up, on that thread, so
    the first question does not wait for the file check and the load, /healthz can report a broken file before
    anyone asks, and nothing blocks a request while it loads.
    """

    name = "embedded"
    vision = False  # the shipped GGUFs are text-only models

    def __init__(self, locate, context_tokens, max_answer_tokens, sampling, threads=None):
        self._locate = locate  # returns the checked GGUF path or raises ModelFileError
        self._context_tokens = context_tokens
        self._max_answer_tokens = max_answer_tokens
        self._sampling = sampling
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._jobs = None  # a real (OS-thread) queue, made with the generation thread
        self._started = False
        self._start_lock = threading.Lock()
        self._error = None  # why the model cannot answer, once known
        self._server = None
        self.load_seconds = None

    def health(self):
        """Ready unless the model file failed its check or the model failed to load (a load under way is fine)."""
        return (False, self._error) if self._error else (True, "ok")

    def stream(self, request):
        """Queue the request for the generation thread and yield its deltas; closing stops it at the next token."""
        if self._error:
            raise self._unavailable()
        self.start()
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

    def counters(self):
        """llama.cpp's running totals (e.g. `n_decode_total`, `tokens_predicted_total`) once the model is loaded."""
        if self._server is None:
            return {}
        lines = self._server.handle_metrics().splitlines()
        return {name.removeprefix("llamacpp:"): float(value)
                for name, _, value in (line.partition(" ") for line in lines if line.startswith("llamacpp:"))}

    def start(self):
        """Start the generation thread (once), which loads the model and then answers queued questions.

        Called in the process that serves, after any fork: a thread started before one does not go on in the child.
        """
        with self._start_lock:
            if not self._started:
                if gevent_patched():  # a real queue: the generation thread is an OS thread, not a greenlet
                    from gevent.monkey import get_original

                    self._jobs = get_original("queue", "SimpleQueue")()
                else:
                    self._jobs = queue.SimpleQueue()
                start_os_thread(self._serve, name="embedded-model")
                self._started = True

    def _unavailable(self):
        """The 503 every question gets while the model cannot answer."""
        return ChatError(503, "embedded_model_unavailable",
                         f"The embedded model is unavailable: {self._error}. Set OPENAI_API_KEY to use an upstream model.",
                         error_type="server_error")

    def _load(self):
        """Check the model file and load it; on failure record why (for /healthz and the 503s) and return None."""
        try:
            started = time.perf_counter()
            path = self._locate()
            import xllamacpp

            socket_dir = tempfile.mkdtemp(prefix="chat-model-")  # mode 0700
            atexit.register(shutil.rmtree, socket_dir, True)
            server = xllamacpp.Server(_server_params(path, self._context_tokens, self._threads,
                                                     os.path.join(socket_dir, "llama.sock")))
            self.load_seconds = time.perf_counter() - started
            log.info("embedded model %s checked and loaded in %.2fs", os.path.basename(path), self.load_seconds)
            return server
        except ModelFileError as exc:
            self._error = str(exc)
        except ImportError:
            self._error = "xllamacpp is not installed: pip install -r requirements.txt"
        except Exception as exc:  # llama.cpp refused the file (not a GGUF, too new, out of memory…)
            self._error = f"llama.cpp could not load the model file ({type(exc).__name__}: {exc})"
        log.error("embedded model unavailable: %s", self._error)
        return None

    def _serve(self):
        """The generation thread: load the model, then answer queued jobs one at a time, forever."""
        server = self._server = self._load()
        while True:
            job = self._jobs.get()
            if job.cancelled:
                continue
            if server is None:
                job.put(self._unavailable())
                continue
            try:
                self._generate(server, job)
            except ChatError as exc:
                job.put(exc)
            except Exception as exc:
                log.error("embedded generation failed: %s", type(exc).__name__)
                job.put(ChatError(500, "embedded_model_error", "The embedded model failed while answering.",
                                  error_type="server_error"))
            job.put(_END)

    def _generate(self, server, job):
        """Stream one answer into the job's queue, stopping at the next token once the reader has gone away."""
        request = job.request
        body = {**self._sampling, "messages": request.messages, "stream": True,
                "stream_options": {"include_usage": True},
                "max_tokens": min(request.max_tokens or self._max_answer_tokens, self._max_answer_tokens)}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        seen = {"reason": None, "usage": None, "error": None}

        def on_chunk(chunk):
            """Called by xllamacpp on this thread for every chunk; returning True ends the generation."""
            if job.cancelled:
                return True
            if "error" in chunk or "choices" not in chunk:
                seen["error"] = chunk.get("error", chunk)
                return True
            for choice in chunk["choices"]:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    job.put(content)
                seen["reason"] = choice.get("finish_reason") or seen["reason"]
            seen["usage"] = chunk.get("usage") or seen["usage"]
            return False

        server.handle_chat_completions(body, on_chunk)
        if job.cancelled:
            return
        if seen["error"] is not None:
            error = seen["error"] if isinstance(seen["error"], dict) else {}
            raise ChatError(400 if error.get("code") == 400 else 500, "embedded_model_error",
                            f"The embedded model refused the request: {error.get('message', 'unknown error')}",
                            error_type="invalid_request_error" if error.get("code") == 400 else "server_error")
        usage = seen["usage"]
        # The model's own counts: the prompt as its chat template rendered it, and the tokens it generated.
        job.put(Finish(seen["reason"], usage and {key: usage[key] for key in
                                                  ("prompt_tokens", "completion_tokens", "total_tokens")}))
