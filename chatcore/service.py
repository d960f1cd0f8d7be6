"""One chat turn: validate → system prompt → trim context → stream from the provider in OpenAI format."""

import itertools
import json
import logging
import os
import queue
import threading
import time
import uuid
from dataclasses import replace

from .errors import ChatError, FilesRefused, upstream_error
from .messages import content_tokens, image_count, parse_request, trim_to_budget, with_system_prompt, without_images
from .providers.base import Finish, Reasoning
from .reasoning import split_thinking

log = logging.getLogger("chat")

DONE_EVENT = b"data: [DONE]\n\n"
# Deltas that arrive within this long of the last content chunk sent are merged into the next chunk (still a
# plain OpenAI chunk, just with more text). The page re-renders at most ~30 times a second, and less often as
# the answer grows (+10 ms per 1,000 characters), so merging inside 40 ms (growing the same way, at most 100 ms)
# is invisible to it; each chunk saved is ~18 bytes of envelope and gzip/HTTP framing on the wire.
COALESCE_SECONDS = 0.04
COALESCE_SECONDS_PER_CHARACTER = 0.00001
COALESCE_MAX_SECONDS = 0.1
# Streams that hold a delta wait for the next item in one of these shared threads (at most this many at once
# per process; beyond that a delta is simply sent at once).
HELPER_THREADS = 256


# Compact JSON that keeps non-ASCII text as UTF-8 (half the bytes of \u escapes for Chinese). One encoder for
# all: json.dumps with options builds a new one per call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def sse_event(obj) -> bytes:
    """One server-sent event carrying a JSON object."""
    return f"data: {_json(obj)}\n\n".encode()


class _Collect:
    """One helper job: read a stream's next items until one arrives at or after `deadline`, the stream ends or
    fails, or the stream's own thread asks it to stop. Only one thread ever runs the stream at a time: the
    stream's thread touches `events` again only after the job is done."""

    def __init__(self, events, deadline):
        self.events = events
        self.deadline = deadline
        self.items = []          # what arrived: str deltas, a Finish, or an exception to re-raise
        self.done = False
        self.stop = False        # set by the stream's thread: finish after the read in progress
        self.close = False       # set by the stream's thread when its client went away: close the stream
        self.started = False     # a helper took the job
        self.withdrawn = False   # the stream's thread took it back before any helper did
        self.changed = threading.Condition(threading.Lock())

    def run(self):
        """In a helper thread."""
        with self.changed:
            if self.withdrawn:
                return
            self.started = True
        while True:
            try:
                item = next(self.events, None)
                item = Finish(None) if item is None else item
            except BaseException as exc:  # handed to the stream's thread, which raises it there
                item = exc
            with self.changed:
                self.items.append(item)
                if (self.stop or not isinstance(item, str) or time.monotonic() >= self.deadline):
                    self.done = True
                    self.changed.notify()
                    close = self.close
                    break
        if close:
            self.events.close()

    def take(self):
        """The items read so far (and forget them)."""
        with self.changed:
            items, self.items = self.items, []
            return items

    def wait(self, timeout=None):
        """Wait until the job is done (or `timeout`); True when done."""
        with self.changed:
            return self.changed.wait_for(lambda: self.done, timeout)

    def withdraw(self):
        """Take the job back if no helper has started it (all busy, or one died); True when taken back."""
        with self.changed:
            if not self.started:
                self.withdrawn = True
            return self.withdrawn

    def finish_soon(self):
        """Stop after the read in progress."""
        with self.changed:
            self.stop = True

    def close_stream(self):
        """The client went away: close the stream now, or right after the read in progress."""
        with self.changed:
            if not self.done:
                self.stop = self.close = True
                return
        self.events.close()


class _Helpers:
    """Shared daemon threads for _Collect jobs; at most `size` jobs at once, started as needed, per process.

    Set up on first use in each process (a forked worker starts with none), so under gevent the queue, lock
    and threads are the monkey-patched, cooperative ones even if this module was imported before patching.
    """

    def __init__(self, size):
        self.size = size
        self._setup = threading.Lock()
        self._pid = None

    def submit(self, job):
        """Run the job in a helper thread; False (and nothing runs) when `size` jobs are already running."""
        if self._pid != os.getpid():
            with self._setup:
                if self._pid != os.getpid():
                    self._jobs, self._lock, self._live, self._busy = queue.SimpleQueue(), threading.Lock(), 0, 0
                    self._pid = os.getpid()
        with self._lock:
            if self._busy >= self.size:
                return False
            self._busy += 1
            if self._busy > self._live:
                self._live += 1
                threading.Thread(target=self._serve, args=(self._jobs,), name="chat-helper", daemon=True).start()
        self._jobs.put(job)
        return True

    def _serve(self, jobs):
        try:
            while True:
                job = jobs.get()
                try:
                    job.run()
                except Exception:  # never lose a helper thread to a bug
                    log.exception("stream helper failed")
                finally:
                    with self._lock:
                        self._busy -= 1
        finally:
            # Count live threads, not started ones: a thread that dies (e.g. killed by a test harness) must not
            # leave jobs waiting in the queue for nobody. Counted here rather than by asking every thread
            # is_alive() on each submit: under gevent each is_alive() yields to the event loop.
            with self._lock:
                self._live -= 1


HELPERS = _Helpers(HELPER_THREADS)


class ChatService:
    """Turns an OpenAI-style request body into a streamed or complete answer from the provider of its model."""

    def __init__(self, settings, providers, coalesce_seconds=None):
        self.settings = settings
        self.providers = providers
        self.coalesce_seconds = COALESCE_SECONDS if coalesce_seconds is None else coalesce_seconds

    def _window(self, characters):
        """How long a delta may wait for others, once `characters` of the answer were read (0: never)."""
        base = self.coalesce_seconds
        return base and max(base, min(COALESCE_MAX_SECONDS, base + characters * COALESCE_SECONDS_PER_CHARACTER))

    def prepare(self, body, attachments=()):
        """Validate the body and build the messages the model sees; raises ChatError on bad input.

        `attachments` (chatcore.attachments.prepare's, already checked) join the question: their text within the
        context budget, their images as image_url parts."""
        settings = self.settings
        models = [model for model, _ in self.providers.models()]
        request = parse_request(body, models, self.providers.default_model(), settings.max_input_chars,
                                allow_empty_question=bool(attachments))
        question = request.messages[-1]
        if not self.providers.takes_images(request.model):
            if image_count(question["content"]) or any(item["kind"] == "image" for item in attachments):
                raise FilesRefused(400, "model_without_vision", f"The model {request.model} does not take images: "
                                   "choose a model that does, or send the question without them.")
            # Images of earlier turns (asked of another model) become a note rather than an upstream error.
            request.messages = [{**m, "content": without_images(m["content"])} for m in request.messages]
        messages = with_system_prompt(request.messages, settings.system_prompt)
        budget = max(settings.context_tokens - (request.max_tokens or settings.max_answer_tokens), 64)
        if attachments:
            from .attachments import fixed_tokens, model_content

            # The files' text gets what the system prompt, the question and its images leave of the budget
            # (earlier turns are dropped first, by trim_to_budget).
            used = sum(content_tokens(m["content"]) + 4 for m in messages if m["role"] == "system")
            left = budget - used - fixed_tokens(question["content"], attachments) - 16
            messages[-1] = {"role": "user", "content": model_content(question["content"], attachments, max(left, 0))}
        request.messages, request.trimmed_messages = trim_to_budget(messages, budget)
        return request

    def stream(self, request):
        """The stream of the provider that offers the request's model (not started until read), its thinking split
        from its answer whichever form the provider sends it in."""
        provider, model = self.providers.resolve(request.model)
        # The provider gets the backend's own name for the model; answers keep the id the client asked for.
        return split_thinking(provider.stream(replace(request, model=model)))

    def start(self, request):
        """Start the provider stream and wait for its first item, so early failures become HTTP errors."""
        events = self.stream(request)
        try:
            first = next(events)
        except StopIteration:
            first = Finish(None)
        except ChatError as exc:
            self.log_failure(request, exc)
            raise
        return first, events

    def sse(self, request, first, events):
        """Yield the answer as OpenAI `chat.completion.chunk` events, ending with [DONE] or an error event.

        The first delta goes out at once, in the same write as the role chunk. A delta that arrives within the window (`_window`) of
        the last content chunk waits and is merged with whatever else arrives until then; it never waits longer:
        while deltas wait, the stream's next items are read by a shared helper thread, and this thread sends
        the waiting text at the deadline. Each yield is one write (and one gzip flush).
        """
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta, finish_reason=None):
            return sse_event({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                              "model": request.model,
                              "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

        # Text chunks differ only in their content: encode the envelope once and put each text's JSON in it.
        envelopes = {str: chunk({"content": ""}).rpartition(b'""'),
                     Reasoning: chunk({"reasoning_content": ""}).rpartition(b'""')}

        def text_event(kind, text):
            head, _, tail = envelopes[kind]
            return head + _json(text).encode() + tail

        characters = 0
        waiting = []        # deltas received and not sent yet
        sent_at = None      # when the last content chunk was sent (monotonic)
        job = None          # a helper reading ahead while deltas wait
        role = chunk({"role": "assistant", "content": ""})  # OpenAI's first chunk; written with the first text

        def text_chunk():
            nonlocal role
            head, role = role, b""
            if not waiting:
                return head
            # One chunk per run of answer or reasoning deltas, in order: the two never share a chunk.
            events = b"".join(text_event(kind, "".join(run)) for kind, run in itertools.groupby(waiting, type))
            waiting.clear()
            return head + events

        try:
            items = [first]
            while True:
                for item in items:
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, Finish):
                        head = text_chunk()
                        error = self._finish_error(item, characters)
                        if error:
                            self.log_failure(request, error)
                            yield head + sse_event(error.to_dict())
                            return
                        tail = chunk({}, item.reason)
                        if request.include_usage and item.usage:
                            tail += sse_event({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                                               "model": request.model, "choices": [], "usage": item.usage})
                        yield head + tail + DONE_EVENT
                        return
                    characters += len(item)
                    waiting.append(item)
                if not waiting:  # everything read was sent already
                    items = [next(events, Finish(None))]
                    continue
                now = time.monotonic()
                deadline = now if sent_at is None else sent_at + self._window(characters)
                if now < deadline:
                    job = _Collect(events, deadline)
                    # Every helper busy, or none got to the job in time: it is taken back and read here.
                    if not HELPERS.submit(job) or (not job.wait(deadline - now) and job.withdraw()):
                        job = None
                if job is None:  # send what waits now, then read the next item here
                    yield text_chunk()
                    sent_at = time.monotonic()
                    items = [next(events, Finish(None))]
                    continue
                items = []
                if not job.done:
                    job.finish_soon()  # the deadline passed while a read is in progress
                    for item in job.take():
                        if isinstance(item, str):
                            characters += len(item)
                            waiting.append(item)
                        else:
                            items.append(item)
                    if waiting:
                        yield text_chunk()
                        sent_at = time.monotonic()
                    job.wait()
                items += job.take()
                job = None
        except ChatError as exc:
            self.log_failure(request, exc)
            yield (text_chunk() if waiting else b"") + sse_event(exc.to_dict())
        finally:
            # Runs on GeneratorExit too (the browser stopped or went away): closes the upstream request.
            if job is not None:
                job.close_stream()
            else:
                events.close()

    def complete(self, request, first, events):
        """Collect the whole answer into one `chat.completion` object (non-streaming requests)."""
        parts, reasoning, item = [], [], first
        try:
            while not isinstance(item, Finish):
                (reasoning if isinstance(item, Reasoning) else parts).append(item)
                item = next(events, Finish(None))
        finally:
            events.close()
        error = self._finish_error(item, sum(map(len, parts + reasoning)))
        if error:
            self.log_failure(request, error)
            raise error
        message = {"role": "assistant", "content": "".join(parts)}
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": request.model, "choices": [{"index": 0, "message": message, "finish_reason": item.reason}],
        }
        if item.usage:
            body["usage"] = item.usage
        return body

    @staticmethod
    def _finish_error(finish, characters):
        """The error an ending implies: cut before its finish_reason, or no text at all."""
        if finish.reason is None:
            return upstream_error(502, "stream_interrupted", "The answer was cut off before it finished.")
        if characters == 0 and finish.reason != "length":
            return upstream_error(502, "empty_answer", "The model returned an empty answer.")
        return None

    def log_failure(self, request, error):
        """One log line per failed turn: the code and the underlying exception type, never bodies or keys."""
        cause = error.__cause__
        log.warning("chat failed: code=%s status=%s model=%s cause=%s", error.code, error.status,
                    getattr(request, "model", "?"), type(cause).__name__ if cause else "-")
