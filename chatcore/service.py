"""One chat turn: validate → system prompt → trim context → stream from the provider in OpenAI format."""

import json
import logging
import time
import uuid

from .errors import ChatError, upstream_error
from .messages import parse_request, trim_to_budget, with_system_prompt
from .providers.base import Finish

log = logging.getLogger("chat")

DONE_EVENT = b"data: [DONE]\n\n"


def _json(obj) -> str:
    """Compact JSON that keeps non-ASCII text as UTF-8 (half the bytes of \\u escapes for Chinese)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse_event(obj) -> bytes:
    """One server-sent event carrying a JSON object."""
    return f"data: {_json(obj)}\n\n".encode()


class ChatService:
    """Turns an OpenAI-style request body into a streamed or complete answer from one provider."""

    def __init__(self, settings, provider):
        self.settings = settings
        self.provider = provider

    def prepare(self, body):
        """Validate the body and build the messages the model sees; raises ChatError on bad input."""
        settings = self.settings
        request = parse_request(body, settings.models, settings.default_model, settings.max_input_chars)
        messages = with_system_prompt(request.messages, settings.system_prompt)
        budget = settings.context_tokens - (request.max_tokens or settings.max_answer_tokens)
        request.messages, request.trimmed_messages = trim_to_budget(messages, max(budget, 64))
        return request

    def start(self, request):
        """Start the provider stream and wait for its first item, so early failures become HTTP errors."""
        events = self.provider.stream(request)
        try:
            first = next(events)
        except StopIteration:
            first = Finish(None)
        except ChatError as exc:
            self.log_failure(request, exc)
            raise
        return first, events

    def sse(self, request, first, events):
        """Yield the answer as OpenAI `chat.completion.chunk` events, ending with [DONE] or an error event."""
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta, finish_reason=None):
            return sse_event({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                              "model": request.model,
                              "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

        characters = 0
        try:
            yield chunk({"role": "assistant", "content": ""})
            item = first
            while True:
                if isinstance(item, Finish):
                    error = self._finish_error(item, characters)
                    if error:
                        self.log_failure(request, error)
                        yield sse_event(error.to_dict())
                        return
                    yield chunk({}, item.reason)
                    if request.include_usage and item.usage:
                        yield sse_event({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                                         "model": request.model, "choices": [], "usage": item.usage})
                    yield DONE_EVENT
                    return
                characters += len(item)
                yield chunk({"content": item})
                item = next(events, Finish(None))
        except ChatError as exc:
            self.log_failure(request, exc)
            yield sse_event(exc.to_dict())
        finally:
            # Runs on GeneratorExit too (the browser stopped or went away): closes the upstream request.
            events.close()

    def complete(self, request, first, events):
        """Collect the whole answer into one `chat.completion` object (non-streaming requests)."""
        parts, item = [], first
        try:
            while not isinstance(item, Finish):
                parts.append(item)
                item = next(events, Finish(None))
        finally:
            events.close()
        error = self._finish_error(item, sum(map(len, parts)))
        if error:
            self.log_failure(request, error)
            raise error
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": request.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(parts)},
                         "finish_reason": item.reason}],
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
        log.warning("chat failed: code=%s status=%s model=%s backend=%s cause=%s", error.code, error.status,
                    getattr(request, "model", "?"), self.provider.name, type(cause).__name__ if cause else "-")
