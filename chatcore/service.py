"""One chat turn: validate → system prompt → trim context → stream from the provider in OpenAI format."""

import itertools
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import replace

from .errors import ChatError, upstream_error
from .messages import content_tokens, image_count, parse_request, trim_to_budget, with_system_prompt, without_images
from .os_thread import gevent_patched
from .providers.base import Finish, Reasoning
from .reasoning import split_thinking

log = logging.getLogger("chat")

DONE_EVENT = b"data: [DONE]\n\n"
# A delta that arrives within this long of the last event sent waits and goes out merged with whatever else
# arrives by then (on /v1 and in the generation logs): each event saved is its envelope and gzip/HTTP framing
# on the wire, and a page re-renders far less often than this anyway.
MERGE_SECONDS = 0.04


# Compact JSON that keeps non-ASCII text as UTF-8 (half the bytes of \u escapes for Chinese). One encoder for
# all: json.dumps with options builds a new one per call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def sse_event(obj) -> bytes:
    """One server-sent event carrying a JSON object."""
    return f"data: {_json(obj)}\n\n".encode()


class _Reader:
    """Reads a provider stream into a queue in a thread of its own (a greenlet under gevent), so that the
    stream's writer can wait for its next item with a timeout."""

    def __init__(self, events):
        self.events = events
        self.stopped = False
        if gevent_patched():
            import gevent
            import gevent.queue

            self.items = gevent.queue.SimpleQueue()
            self.greenlet = gevent.spawn(self._run)
        else:
            self.items, self.greenlet = queue.SimpleQueue(), None
            threading.Thread(target=self._run, name="stream-reader", daemon=True).start()

    def _run(self):
        """Queue every delta, then how the stream ended: its Finish, the exception it raised, or Finish(None)."""
        end = Finish(None)  # a stream that stops without a Finish was cut
        try:
            for item in self.events:
                if isinstance(item, Finish):
                    end = item
                    break
                if self.stopped:  # the writer has gone (only checked here without gevent, which kills the read)
                    break
                self.items.put(item)
        except Exception as exc:  # raised again in the writer's thread
            end = exc
        finally:
            self.items.put(end)
            self.events.close()

    def get(self, timeout=None):
        """The next item, or None when `timeout` seconds pass first."""
        try:
            return self.items.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self):
        """Close the stream: under gevent at once, even inside a read; otherwise after the read in progress."""
        self.stopped = True
        if self.greenlet is not None and not self.greenlet.dead:
            self.greenlet.kill()
            self.events.close()  # the greenlet may have been killed before it started


class ChatService:
    """Turns an OpenAI-style request body into a streamed or complete answer from the provider of its model."""

    def __init__(self, settings, providers, merge_seconds=None):
        self.settings = settings
        self.providers = providers
        self.merge_seconds = MERGE_SECONDS if merge_seconds is None else merge_seconds

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
                raise ChatError(400, "model_without_vision", f"The model {request.model} does not take images: "
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

        A delta goes out at once, unless the last write was less than `merge_seconds` ago: then it waits until
        that long after it, merged with whatever else arrives by then. Each yield is one write (and one gzip flush).
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
        waiting = []  # deltas received and not sent yet
        role = chunk({"role": "assistant", "content": ""})  # OpenAI's first chunk; written with the first text

        def text_chunk():
            nonlocal role
            head, role = role, b""
            # One chunk per run of answer or reasoning deltas, in order: the two never share a chunk.
            events = b"".join(text_event(kind, "".join(run)) for kind, run in itertools.groupby(waiting, type))
            waiting.clear()
            return head + events

        reader = _Reader(events)
        sent_at = time.monotonic() - self.merge_seconds  # the first delta goes out at once
        try:
            item = first
            while not isinstance(item, (Finish, BaseException)):
                characters += len(item)
                waiting.append(item)
                wait = sent_at + self.merge_seconds - time.monotonic()
                item = reader.get(wait) if wait > 0 else None
                if item is None:  # the window is over: send what waits, then wait for the next delta
                    yield text_chunk()
                    sent_at = time.monotonic()
                    item = reader.get()
            if isinstance(item, BaseException):
                raise item
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
        except ChatError as exc:
            self.log_failure(request, exc)
            yield text_chunk() + sse_event(exc.to_dict())
        finally:
            # Runs on GeneratorExit too (the browser stopped or went away): closes the upstream request.
            reader.stop()

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
